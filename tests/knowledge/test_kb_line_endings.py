"""Line breaks are stored as "\\n" whichever way an article is written (a browser's textarea sends
"\\r\\n"), so a save of the unchanged editor makes no version; text stored with "\\r\\n" before is not
changed by such a save either, and its history does not mark it as differing."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.knowledge import articles, from_ticket, jsonl
from app.models import KbArticle, KbArticleVersion
from tests import factories as f
from tests.knowledge.test_kb_pages import _form

API = "/api/v1/kb/articles"
SYMPTOM = "Pump hums\nNo water flow"
BODY = "Check the impeller.\n\n1. Close the valves\n2. Open the cover"


def _as_a_browser_sends(form: dict[str, str]) -> dict[str, str]:
    """The form as a browser posts it: every line break of a textarea is sent as CRLF (HTML spec)."""
    return {k: v.replace("\r\n", "\n").replace("\n", "\r\n") for k, v in form.items()}


def _versions(db: Session, article_id: int) -> int:
    return db.query(KbArticleVersion).filter_by(article_id=article_id).count()


def test_saving_the_unchanged_editor_makes_no_version(
    client: TestClient, db: Session, login: Any, sign_in: Any
) -> None:
    created = client.post(
        API, json={"title": "Pump hums", "symptom": SYMPTOM, "body": BODY}, headers=login("agent")
    ).json()
    sign_in("agent")
    form = _form(client.get(f"/kb/articles/{created['id']}/edit").text)
    assert "\n" in form["body"]  # the textarea holds the line breaks the browser turns into CRLF
    saved = client.post(
        f"/kb/articles/{created['id']}/edit", data=_as_a_browser_sends(form), follow_redirects=False
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=unchanged")
    article = db.get(KbArticle, created["id"])
    assert article is not None
    db.refresh(article)
    assert (article.symptom, article.body, article.version) == (SYMPTOM, BODY, 1)
    assert _versions(db, article.id) == 1

    # A real change is saved, with "\n" line breaks.
    form = _form(client.get(f"/kb/articles/{created['id']}/edit").text)
    changed = client.post(
        f"/kb/articles/{created['id']}/edit",
        data=_as_a_browser_sends({**form, "body": BODY + "\n3. Restart"}),
        follow_redirects=False,
    )
    assert changed.headers["location"].endswith("done=saved")
    db.refresh(article)
    assert article.body == BODY + "\n3. Restart" and article.symptom == SYMPTOM
    assert db.query(KbArticleVersion).filter_by(article_id=article.id, number=2).one().changed == ["body"]


def test_api_import_and_from_ticket_store_lf(client: TestClient, db: Session, login: Any) -> None:
    agent = login("agent")
    crlf = {"title": "Pump hums", "symptom": SYMPTOM.replace("\n", "\r\n"), "body": BODY.replace("\n", "\r")}
    created = client.post(API, json={**crlf, "resolution_steps": ["Close\r\nthe valves"]}, headers=agent)
    assert created.status_code == 201
    assert (created.json()["symptom"], created.json()["body"]) == (SYMPTOM, BODY)
    assert created.json()["resolution_steps"] == ["Close\nthe valves"]
    path = f"{API}/{created.json()['id']}"
    patched = client.patch(
        path,
        json={"body": BODY.replace("\n", "\r\n")},
        headers={**agent, "If-Match": client.get(path, headers=agent).headers["ETag"]},
    )
    assert patched.status_code == 200 and patched.json()["version"] == 1

    line = json.dumps({"id": "crm-1", "title": "Fan noise", "symptom": "a\r\nb", "body": "c\r\nd"})
    assert jsonl.import_lines(db, [line], actor=None).created == 1
    imported = db.query(KbArticle).filter_by(external_id="crm-1").one()
    assert (imported.symptom, imported.body) == ("a\nb", "c\nd")
    assert jsonl.import_lines(db, [line.replace("\\r\\n", "\\n")], actor=None).unchanged == 1

    account = f.make_account(db, region=f.make_region(db))
    ticket = f.open_ticket(db, account, subject="Fan noise", description="loud\r\nat night")
    author = f.make_user(db, role="agent")
    draft, _ = from_ticket.draft_from_ticket(db, ticket_id=ticket.id, actor=author)
    assert draft.symptom == "loud\nat night"


def test_text_stored_with_crlf_before_is_not_an_edit(client: TestClient, db: Session, sign_in: Any) -> None:
    author = f.make_user(db, role="agent")
    article = articles.create_article(
        db, values={"title": "Pump hums", "symptom": SYMPTOM, "body": BODY}, actor=author
    )
    db.commit()
    # As an article saved from the editor before line breaks were normalised holds them.
    db.execute(
        update(KbArticle)
        .where(KbArticle.id == article.id)
        .values(symptom=SYMPTOM.replace("\n", "\r\n"), body=BODY.replace("\n", "\r\n"))
    )
    db.commit()
    sign_in("agent")
    version = client.get(f"/kb/articles/{article.id}/versions/1").text
    assert "This version says the same as the article now." in version
    assert not re.search(r'badge warn">differs', version)
    page = client.get(f"/kb/articles/{article.id}/edit")
    saved = client.post(
        f"/kb/articles/{article.id}/edit", data=_as_a_browser_sends(_form(page.text)), follow_redirects=False
    )
    assert saved.headers["location"].endswith("done=unchanged")
    assert articles.update_article(db, article, values={"body": BODY}, actor=author) == []
    assert _versions(db, article.id) == 1
