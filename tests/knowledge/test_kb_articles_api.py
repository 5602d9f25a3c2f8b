"""Articles through the API: lifecycle, versions and restore, ETag/If-Match, roles, safe Markdown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge.markdown import plain_text, render_markdown
from tests import factories as f

# The articles name the demo's product models: the database must have them.
pytestmark = pytest.mark.usefixtures("product_models")

API = "/api/v1/kb/articles"
ARTICLE = {
    "title": "Heat pump shows fault F.75: no heating",
    "symptom": "Display shows F.75, the house stays cold.",
    "body": "Check the **system pressure**: 1.0-2.0 bar.",
    "resolution_steps": ["Read the pressure", "Refill and vent", "Reset the unit"],
    "product_models": ["HP-AROT"],
    "fault_codes": ["F75"],
    "tags": ["heat pump"],
    "status": "published",
}


def _create(client: TestClient, headers: dict[str, str], **over: Any) -> dict[str, Any]:
    r = client.post(API, json={**ARTICLE, **over}, headers=headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_duplicate_external_id_is_a_conflict(client: TestClient, login: Any) -> None:
    """Found by fuzzing: a second article with the same external id hit the unique index (a 500)."""
    agent = login("agent")
    first = _create(client, agent, external_id="kb-ext-1")
    r = client.post(API, json={**ARTICLE, "title": "Another", "external_id": "kb-ext-1"}, headers=agent)
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["external_id"]
    # The request's transaction is intact: the first article is there, and new ones still go in.
    assert client.get(f"{API}/{first['id']}", headers=agent).status_code == 200
    assert _create(client, agent, external_id="kb-ext-2")["external_id"] == "kb-ext-2"


def test_lifecycle_versions_and_restore(client: TestClient, login: Any) -> None:
    agent = login("agent")
    manager = login("manager")
    created = _create(client, agent, status="draft")
    aid = created["id"]
    assert created["language"] == "en" and created["status"] == "draft" and created["version"] == 1

    got = client.get(f"{API}/{aid}", headers=agent)
    etag = got.headers["ETag"]
    assert client.patch(f"{API}/{aid}", json={"title": "x"}, headers=agent).status_code == 428
    stale = client.patch(f"{API}/{aid}", json={"title": "x"}, headers={**agent, "If-Match": '"v99"'})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")

    r = client.patch(
        f"{API}/{aid}",
        json={"status": "published", "body": "New body"},
        headers={**manager, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "published" and r.headers["ETag"] != etag

    versions = client.get(f"{API}/{aid}/versions", headers=agent).json()
    assert [v["number"] for v in versions] == [2, 1]
    assert versions[0]["action"] == "updated" and versions[0]["changed"] == ["body", "status"]
    assert versions[0]["actor_id"] != versions[1]["actor_id"]  # who changed what: manager, then agent
    assert versions[1]["snapshot"]["body"] == ARTICLE["body"]

    restored = client.post(
        f"{API}/{aid}/versions/1/restore", headers={**agent, "If-Match": r.headers["ETag"]}
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["body"] == ARTICLE["body"] and restored.json()["status"] == "draft"
    history = client.get(f"{API}/{aid}/versions", headers=agent).json()
    assert history[0]["number"] == 3 and history[0]["action"] == "restored"
    assert (
        client.post(
            f"{API}/{aid}/versions/9/restore", headers={**agent, "If-Match": restored.headers["ETag"]}
        ).status_code
        == 404
    )

    # it was published (version 2): a draft again, but its history is kept, so deleting is refused
    kept = client.delete(f"{API}/{aid}", headers={**agent, "If-Match": restored.headers["ETag"]})
    assert kept.status_code == 409 and kept.headers["content-type"].startswith("application/problem+json")
    assert "it was published" in kept.json()["detail"] and "Archive it instead" in kept.json()["detail"]
    assert len(client.get(f"{API}/{aid}/versions", headers=agent).json()) == 3

    # a draft that was never published goes; deleting needs If-Match
    draft = _create(client, agent, status="draft", title="Draft never published")
    draft_etag = client.get(f"{API}/{draft['id']}", headers=agent).headers["ETag"]
    gone = client.delete(f"{API}/{draft['id']}", headers={**agent, "If-Match": draft_etag})
    assert gone.status_code == 204
    assert client.get(f"{API}/{draft['id']}", headers=agent).status_code == 404


def test_no_change_is_no_new_version(client: TestClient, login: Any) -> None:
    agent = login("agent")
    created = _create(client, agent)
    path = f"{API}/{created['id']}"
    match = {"If-Match": client.get(path, headers=agent).headers["ETag"]}
    r = client.patch(path, json={"title": ARTICLE["title"]}, headers={**agent, **match})
    assert r.status_code == 200 and r.json()["version"] == 1
    assert len(client.get(f"{API}/{created['id']}/versions", headers=agent).json()) == 1


def test_bad_input_is_problem_json_naming_the_field(client: TestClient, login: Any) -> None:
    agent = login("agent")
    for body, field in (
        ({**ARTICLE, "title": ""}, "title"),
        ({**ARTICLE, "status": "live"}, "status"),
        ({**ARTICLE, "language": "pt"}, "language"),  # not one the detector tells apart
        ({**ARTICLE, "tags": "not-a-list"}, "tags"),
        ({**ARTICLE, "body": "a\x00b"}, "body"),
        ({**ARTICLE, "surprise": 1}, "surprise"),
        ({**ARTICLE, "product_models": ["li s3300; ???", "😀"]}, "product_models"),
        ({**ARTICLE, "fault_codes": ["E 04"]}, "fault_codes"),
    ):
        r = client.post(API, json=body, headers=agent)
        assert r.status_code == 422, body
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()


def test_chinese_article_language_is_detected(client: TestClient, login: Any) -> None:
    agent = login("agent")
    created = _create(
        client, agent, title="热泵显示故障F.75，不制热", body="请客户读取系统水压。", symptom=""
    )
    assert created["language"] == "zh"


@pytest.mark.parametrize("role", ["agent", "manager", "admin", "dispatcher", "engineer"])
def test_roles_for_every_id_route(client: TestClient, db: Session, login: Any, role: str) -> None:
    """Writers: agent, manager, admin. Dispatchers read everything, engineers published only
    (a draft is 404 to them, as is an unknown id); a non-writer's change is 403."""
    writer = login("agent")
    published = _create(client, writer)["id"]
    draft = _create(client, writer, status="draft")["id"]
    me = login(role)
    writes = role in ("agent", "manager", "admin")
    sees_drafts = role != "engineer"

    def one(aid: int | None = None) -> dict[str, str]:  # the article's ETag now (If-Match: * is a 428)
        if aid is None:
            return {"If-Match": '"v1"'}
        return {"If-Match": client.get(f"{API}/{aid}", headers=writer).headers["ETag"]}

    assert client.get(f"{API}/{published}", headers=me).status_code == 200
    assert client.get(f"{API}/{draft}", headers=me).status_code == (200 if sees_drafts else 404)
    assert client.get(f"{API}/999999", headers=me).status_code == 404
    listed = {a["id"] for a in client.get(API, headers=me).json()["items"]}
    assert published in listed and (draft in listed) == sees_drafts

    history = client.get(f"{API}/{published}/versions", headers=me).status_code
    assert history == (200 if sees_drafts else 403)

    patch = client.patch(f"{API}/{draft}", json={"tags": ["x"]}, headers={**me, **one(draft)})
    assert patch.status_code == (200 if writes else 403)
    missing = client.patch(f"{API}/999999", json={"tags": ["x"]}, headers={**me, **one()})
    assert missing.status_code == (404 if writes else 403)
    restore = client.post(f"{API}/{draft}/versions/1/restore", headers={**me, **one(draft)})
    assert restore.status_code == (200 if writes else 403)
    created = client.post(API, json=ARTICLE, headers=me)
    assert created.status_code == (201 if writes else 403)
    deleted = client.delete(f"{API}/{draft}", headers={**me, **one(draft)})
    assert deleted.status_code == (204 if writes else 403)
    assert client.get(f"{API}/{published}").status_code == 401  # not signed in


def test_the_page_cookie_cannot_write_through_the_api(client: TestClient, db: Session) -> None:
    from app.platform.auth import issue_token
    from app.platform.deps import SESSION_COOKIE

    agent = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(agent))
    assert client.get(API).status_code == 200
    assert client.post(API, json=ARTICLE).status_code == 403


def _etag(client: TestClient, headers: dict[str, str], aid: int) -> str:
    return str(client.get(f"{API}/{aid}", headers=headers).headers["ETag"])


HOSTILE = """# Fix

<script>alert('x')</script>
<img src=x onerror="alert(1)">
[click](javascript:alert(1)) [vb](vbscript:msgbox(1)) [data](data:text/html;base64,PHNjcmlwdD4=)
![pic](javascript:alert(2))
<a href="javascript:alert(3)">raw link</a>
<div onclick="alert(4)">div</div>
[fine](https://example.com/manual)
"""


def _no_active_content(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "<img src=x" not in lowered and "<div" not in lowered and '<a href="javascript' not in lowered
    assert 'href="javascript:' not in lowered and 'src="javascript:' not in lowered
    assert 'href="vbscript:' not in lowered and 'href="data:' not in lowered
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered)  # no event handler inside a real tag


def test_markdown_renders_without_anything_that_runs() -> None:
    html = render_markdown(HOSTILE)
    _no_active_content(html)
    assert "&lt;script&gt;" in html  # shown as text, not dropped silently
    assert '<a href="https://example.com/manual" rel="nofollow noopener noreferrer">fine</a>' in html
    assert "<h1>Fix</h1>" in html
    assert "alert" not in plain_text("**bold** [x](https://a.example)") and "bold" in plain_text("**bold**")


def test_hostile_markdown_is_safe_in_the_api_and_on_the_article_page(
    client: TestClient, db: Session, login: Any
) -> None:
    from app.platform.auth import issue_token
    from app.platform.deps import SESSION_COOKIE

    agent = login("agent")
    created = _create(client, agent, body=HOSTILE, title="<script>alert(5)</script> title")
    _no_active_content(created["body_html"])
    reader = f.make_user(db, role="engineer")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(reader))
    page = client.get(f"/kb/articles/{created['id']}")
    assert page.status_code == 200
    body = page.text.split('<div class="article-body">', 1)[1]
    _no_active_content(body)
    assert "&lt;script&gt;alert(5)&lt;/script&gt; title" in page.text  # the title is escaped too
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_an_unknown_model_code_is_refused_naming_the_field_and_the_likely_code(
    client: TestClient, login: Any
) -> None:
    """A typo ("HP-AR0T") used to be saved, and the article never showed for that model's tickets."""
    agent = login("agent")
    r = client.post(API, json={**ARTICLE, "product_models": ["HP-AROT", "HP-AR0T"]}, headers=agent)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [
        {
            "field": "product_models",
            "message": "HP-AR0T: no product model has this code (did you mean HP-AROT?)",
        }
    ]
    assert "HP-AR0T" in r.json()["detail"]
    far = client.post(API, json={**ARTICLE, "product_models": ["QQQQ"]}, headers=agent).json()
    assert far["errors"][0]["message"] == "QQQQ: no product model has this code"  # nothing near: no guess

    # case and separators do not count; the article keeps the catalogue's spelling (the visit page
    # and the suggestions match it), once
    created = _create(client, agent, product_models=["hp-arot", "HP AROT", "ch30xw"])
    assert created["product_models"] == ["HP-AROT", "CH-30XW"]

    # PATCH checks the same, and a refused change changes nothing
    path = f"{API}/{created['id']}"
    match = {"If-Match": client.get(path, headers=agent).headers["ETag"]}
    bad = client.patch(path, json={"product_models": ["UPS-93PN"]}, headers={**agent, **match})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "product_models"
    assert "did you mean UPS-93PM?" in bad.json()["errors"][0]["message"]
    assert client.get(path, headers=agent).json()["product_models"] == ["HP-AROT", "CH-30XW"]
    good = client.patch(path, json={"product_models": ["ups-93pm"]}, headers={**agent, **match})
    assert good.status_code == 200 and good.json()["product_models"] == ["UPS-93PM"]


def test_german_article_language_is_detected_and_accepted(client: TestClient, login: Any) -> None:
    agent = login("agent")
    german = _create(
        client,
        agent,
        title="Wärmepumpe zeigt F.75, keine Heizleistung",
        symptom="Das Display zeigt F.75 und das Haus bleibt kalt.",
        body="Prüfen Sie den Anlagendruck und füllen Sie bis 1,5 bar nach.",
    )
    assert german["language"] == "de"  # was "en": the detector knew only Chinese and English
    french = _create(client, agent, title="La pompe à chaleur affiche F.75", body="Vérifiez la pression.")
    assert french["language"] == "fr"
    chosen = _create(client, agent, language="nl")  # an English text the author files as Dutch
    assert chosen["language"] == "nl"


def test_an_article_tickets_name_is_kept_and_archiving_is_offered(
    client: TestClient, db: Session, login: Any
) -> None:
    """QA: any agent could delete an article that tickets name as their resolution ("This solved it"):
    its versions and the tickets' verdicts went with it, and the first-contact-resolution record
    with them. Deleting is refused (409, saying to archive it); archiving keeps everything."""
    from sqlalchemy import func, select

    from app.knowledge.feedback import mark_not_helpful, mark_solved
    from app.models import KbArticleVersion, KbTicketFeedback

    agent = login("agent")
    user = f.make_user(db, role="agent")
    account = f.make_account(db)
    solved, unhelpful = f.open_ticket(db, account), f.open_ticket(db, account)
    db.commit()
    published = _create(client, agent)["id"]
    draft = _create(client, agent, status="draft", title="Never published, but judged")["id"]
    mark_solved(db, ticket_id=solved.id, article_id=published, actor=user, channel="phone")
    mark_not_helpful(db, ticket_id=unhelpful.id, article_id=draft, actor=user)
    db.commit()

    for aid, said in ((published, "1 ticket record it"), (draft, "1 ticket record it")):
        r = client.delete(f"{API}/{aid}", headers={**agent, "If-Match": _etag(client, agent, aid)})
        assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
        assert said in r.json()["detail"] and "Archive it instead" in r.json()["detail"], r.json()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(KbTicketFeedback)) == 2
    assert db.scalar(select(func.count()).where(KbArticleVersion.article_id == published)) == 1

    # archived (the way to take it out of use), or archived without any verdict: kept all the same
    for aid in (published, _create(client, agent, title="Published once, no verdicts")["id"]):
        archived = client.patch(
            f"{API}/{aid}",
            json={"status": "archived"},
            headers={**agent, "If-Match": _etag(client, agent, aid)},
        )
        assert archived.status_code == 200 and archived.json()["status"] == "archived"
        r = client.delete(f"{API}/{aid}", headers={**agent, "If-Match": _etag(client, agent, aid)})
        assert r.status_code == 409 and "cannot be deleted" in r.json()["detail"]
    assert "it was published" in r.json()["detail"]


def test_an_etag_never_matches_a_later_article_with_the_same_id(client: TestClient, login: Any) -> None:
    agent = login("agent")
    first = client.post(API, json={**ARTICLE, "status": "draft", "title": "A draft to delete"}, headers=agent)
    gone_etag = first.headers["ETag"]
    deleted = client.delete(first.headers["Location"], headers={**agent, "If-Match": gone_etag})
    assert deleted.status_code == 204
    second = client.post(API, json={**ARTICLE, "status": "draft", "title": "Another draft"}, headers=agent)
    url = second.headers["Location"]
    # On SQLite the new one gets the deleted one's id (and version 1 again); the old ETag is stale.
    for stale in (
        client.patch(url, json={"title": "Overwritten"}, headers={**agent, "If-Match": gone_etag}),
        client.delete(url, headers={**agent, "If-Match": gone_etag}),
    ):
        assert stale.status_code == 412, stale.text
        assert (
            stale.json()["current_etag"]
            == second.headers["ETag"]
            == client.get(url, headers=agent).headers["ETag"]
        )
    assert client.get(url, headers=agent).json()["title"] == "Another draft"
    ok = client.delete(url, headers={**agent, "If-Match": second.headers["ETag"]})
    assert ok.status_code == 204
