"""The article pages: the prefilled draft from a ticket opens in the editor, saving makes a version,
an edit based on an old version is 409 with the text kept, roles."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.models import KbArticleVersion
from tests import factories as f
from tests.web.conftest import csrf_of


def _form(html: str) -> dict[str, str]:
    """The edit form's current values (inputs, selected options, textareas)."""
    values = dict(re.findall(r'<input id="[^"]*" name="([a-z_]+)" type="text"[^>]*value="([^"]*)"', html))
    values.update(re.findall(r'<textarea id="[^"]*" name="([a-z_]+)"[^>]*>([^<]*)</textarea>', html))
    for name in ("language", "status", "visibility"):
        block = html.split(f'name="{name}"', 1)[1].split("</select>", 1)[0]
        values[name] = re.search(r'<option value="([^"]+)" selected>', block).group(1)  # type: ignore[union-attr]
    values["version"] = re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    values["csrf"] = csrf_of(html)
    return values


def test_draft_from_ticket_opens_in_the_editor_and_saves_a_version(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    acc = f.make_account(db)
    ticket = f.open_ticket(db, acc, subject="Display shows F.75", description="Cold house")
    db.commit()
    agent = sign_in("agent")
    page = client.get(f"/desk/tickets/{ticket.id}")
    r = client.post(
        f"/desk/tickets/{ticket.id}/kb-article", data={"csrf": csrf_of(page.text)}, follow_redirects=True
    )
    assert r.status_code == 200 and "Draft created from the ticket" in r.text
    form = _form(r.text)
    assert (
        form["title"] == "Display shows F.75"
        and form["symptom"] == "Cold house"
        and form["status"] == "draft"
    )
    assert form["fault_codes"] == "F75"

    article_id = int(re.search(r"/kb/articles/(\d+)/edit", r.text).group(1))  # type: ignore[union-attr]
    saved = client.post(
        f"/kb/articles/{article_id}/edit",
        data={
            **form,
            "body": "Refill to **1.5 bar**. <script>alert(1)</script>",
            "status": "published",
            "resolution_steps": "Refill\nReset",
            "tags": "heat pump, pressure",
        },
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "Article saved." in saved.text
    assert "<strong>1.5 bar</strong>" in saved.text and "<script>alert" not in saved.text
    article = articles.get_article(db, article_id, reader=agent)
    db.refresh(article)
    assert article.status == "published" and article.tags == ["heat pump", "pressure"]
    assert article.resolution_steps == ["Refill", "Reset"]
    last = (
        db.query(KbArticleVersion)
        .filter_by(article_id=article_id)
        .order_by(KbArticleVersion.number.desc())
        .first()
    )
    assert last is not None and last.actor_id == agent.id
    assert sorted(last.changed) == ["body", "resolution_steps", "status", "tags"]

    # the same form again (its version is old now): 409, the typed text kept, nothing saved
    stale = client.post(f"/kb/articles/{article_id}/edit", data={**form, "title": "My other title"})
    assert stale.status_code == 409 and "Someone else changed this article" in stale.text
    assert 'value="My other title"' in stale.text
    db.refresh(article)
    assert article.title == "Display shows F.75"

    blank = client.post(
        f"/kb/articles/{article_id}/edit",
        data={**_form(client.get(f"/kb/articles/{article_id}/edit").text), "title": " "},
    )
    assert blank.status_code == 422 and "must not be blank" in blank.text


def test_only_writers_open_the_editor(client: TestClient, db: Session, sign_in: Any) -> None:
    author = f.make_user(db, role="agent")
    article = articles.create_article(
        db, values={"title": "Lift door", "body": "x", "status": "draft"}, actor=author
    )
    db.commit()
    sign_in("dispatcher")
    assert client.get(f"/kb/articles/{article.id}").status_code == 200
    assert client.get(f"/kb/articles/{article.id}/edit").status_code == 403
    sign_in("engineer")
    assert client.get(f"/kb/articles/{article.id}").status_code == 404  # a draft
    assert client.get(f"/kb/articles/{article.id}/edit").status_code == 403
    sign_in("manager")
    assert client.get(f"/kb/articles/{article.id}/edit").status_code == 200
    assert client.get("/kb/articles/999999/edit").status_code == 404


def _new_form(html: str) -> dict[str, str]:
    """The new-article editor's defaults (no version field: there is no article yet)."""
    assert 'action="/kb/new"' in html and 'name="version"' not in html
    return {"csrf": csrf_of(html), "status": "draft", "visibility": "internal", "language": ""}


@pytest.mark.usefixtures("product_models")
def test_new_article_from_the_editor(client: TestClient, db: Session, sign_in: Any) -> None:
    agent = sign_in("agent")
    page = client.get("/kb/new")
    assert page.status_code == 200 and "New knowledge article" in page.text
    assert '<option value="" selected>Detect from the text</option>' in page.text
    form = _new_form(page.text)

    # refused (blank title): 422, everything typed is still in the form, nothing created
    refused = client.post("/kb/new", data={**form, "title": "  ", "body": "补水到1.5巴", "tags": "压力"})
    assert refused.status_code == 422 and "must not be blank" in refused.text
    assert "补水到1.5巴</textarea>" in refused.text and 'value="压力"' in refused.text
    assert db.query(KbArticleVersion).count() == 0

    r = client.post(
        "/kb/new",
        data={
            **form,
            "title": "热泵压力过低",
            "body": "请给采暖系统补水到1.5巴，然后给散热器排气。",
            "resolution_steps": "补水\n排气",
            "product_models": "hp-arot, HP AROT",  # the same known model, typed loosely twice
            "fault_codes": "F75",
        },
        follow_redirects=True,
    )
    assert r.status_code == 200 and "Article created." in r.text
    article_id = int(re.search(r"KB-(\d+)", r.text).group(1))  # type: ignore[union-attr]
    article = articles.get_article(db, article_id, reader=agent)
    assert article.language == "zh"  # detected: the form left it blank
    assert article.status == "draft" and article.visibility == "internal"
    assert article.product_models == ["HP-AROT"] and article.resolution_steps == ["补水", "排气"]
    assert article.author_id == agent.id
    (first,) = db.query(KbArticleVersion).filter_by(article_id=article_id).all()
    assert first.action == "created" and first.actor_id == agent.id


@pytest.mark.usefixtures("product_models")
def test_the_editor_refuses_an_unknown_model_code_and_keeps_the_form(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """A typo in a model code ("HP-AR0T", a zero for the O) would save an article that no ticket or
    visit of that model ever shows: refused under the field, with the code it probably meant."""
    agent = sign_in("agent")
    form = _new_form(client.get("/kb/new").text)
    typed = {
        **form,
        "title": "Wärmepumpe: Störung F.75, kein Druck",
        "body": "Anlage auf 1,5 bar füllen und entlüften.",
        "product_models": "HP-AROT, HP-AR0T, XYZ-1",
        "language": "de",
    }
    refused = client.post("/kb/new", data=typed)
    assert refused.status_code == 422
    error = re.search(r'<p class="field-error" id="kb-product_models-error">([^<]*)</p>', refused.text)
    assert error is not None, refused.text
    assert "HP-AR0T: no product model has this code (did you mean HP-AROT?)" in error.group(1)
    assert "XYZ-1: no product model has this code" in error.group(1)
    assert 'aria-describedby="kb-product_models-error"' in refused.text
    assert 'value="HP-AROT, HP-AR0T, XYZ-1"' in refused.text  # what was typed is kept ...
    assert "Anlage auf 1,5 bar füllen und entlüften.</textarea>" in refused.text
    assert '<option value="de" selected>German</option>' in refused.text  # ... the language too
    assert db.query(KbArticleVersion).count() == 0

    created = client.post("/kb/new", data={**typed, "product_models": "HP-AROT"}, follow_redirects=True)
    assert created.status_code == 200 and "Article created." in created.text
    article_id = int(re.search(r"KB-(\d+)", created.text).group(1))  # type: ignore[union-attr]
    article = articles.get_article(db, article_id, reader=agent)
    assert (article.product_models, article.language) == (["HP-AROT"], "de")

    # the same check when an existing article is edited
    page = client.get(f"/kb/articles/{article_id}/edit")
    assert '<option value="de" selected>German</option>' in page.text
    edited = client.post(
        f"/kb/articles/{article_id}/edit",
        data={**typed, "csrf": csrf_of(page.text), "version": "1", "product_models": "HP-AROT, CH-30XV"},
    )
    assert (
        edited.status_code == 422
        and "CH-30XV: no product model has this code (did you mean CH-30XW?)" in (edited.text)
    )
    db.refresh(article)
    assert article.product_models == ["HP-AROT"] and article.version == 1


def test_only_writers_create_articles(client: TestClient, db: Session, sign_in: Any) -> None:
    for role in ("dispatcher", "engineer"):
        sign_in(role)
        assert client.get("/kb/new").status_code == 403
        kb = client.get("/kb")
        assert kb.status_code == 200 and 'href="/kb/new"' not in kb.text
        refused = client.post("/kb/new", data={"csrf": csrf_of(kb.text), "title": "Not mine to write"})
        assert refused.status_code == 403 and "Writing knowledge articles needs" in refused.text
    assert db.query(KbArticleVersion).count() == 0
    sign_in("manager")
    assert 'href="/kb/new"' in client.get("/kb").text


def _history(html: str) -> list[tuple[str, str]]:
    """(version number, its last cell's text) per history row."""
    rows = re.findall(r'<tr data-version="(\d+)">(.*?)</tr>', html, re.S)
    return [(n, re.sub(r"<[^>]+>|\s+", " ", cells).strip()) for n, cells in rows]


def test_history_and_restore(client: TestClient, db: Session, sign_in: Any) -> None:
    author = f.make_user(db, role="agent", name="Ada Author")
    article = articles.create_article(
        db, values={"title": "Lift door", "body": "Clean the sill.", "status": "published"}, actor=author
    )
    db.commit()
    articles.update_article(db, article, values={"body": "Clean the sill and the lenses."}, actor=author)
    db.commit()
    articles.update_article(db, article, values={"title": "Lift door keeps reopening"}, actor=author)
    db.commit()

    agent = sign_in("agent")
    page = client.get(f"/kb/articles/{article.id}")
    rows = _history(page.text)
    assert [n for n, _ in rows] == ["3", "2", "1"]
    assert "Ada Author" in rows[0][1] and "Updated: Title" in rows[0][1] and "current" in rows[0][1]
    assert "Updated: Body" in rows[1][1] and "Restore version 2" in rows[1][1]
    form = {"csrf": csrf_of(page.text), "version": str(article.version)}

    # What version 1 said, before restoring it: its fields, the ones that differ from now marked.
    seen = client.get(f"/kb/articles/{article.id}/versions/1")
    assert (
        seen.status_code == 200 and "Version 1: Lift door" in seen.text and "Clean the sill.</p>" in seen.text
    )
    fields = seen.text[seen.text.index('id="version-fields"') :]
    assert re.search(r"Title <span class=\"badge warn\">differs", fields)
    assert not re.search(r"Status <span class=\"badge warn\">", fields)  # published then and now
    assert "Restore version 1" in seen.text
    assert client.get(f"/kb/articles/{article.id}/versions/99").status_code == 404

    r = client.post(f"/kb/articles/{article.id}/versions/1/restore", data=form, follow_redirects=True)
    assert r.status_code == 200 and "The old version is restored" in r.text
    db.refresh(article)
    assert (article.title, article.body) == ("Lift door", "Clean the sill.")
    rows = _history(r.text)
    assert rows[0][0] == "4" and "Restored" in rows[0][1] and agent.name in rows[0][1]
    assert "same as now" in dict(rows)["1"]  # version 1 is what the article holds again

    # the same form again: its version is old now, so nothing is restored
    stale = client.post(f"/kb/articles/{article.id}/versions/2/restore", data=form)
    assert stale.status_code == 409 and "nothing was restored" in stale.text
    db.refresh(article)
    assert (
        article.body == "Clean the sill."
        and len(_history(client.get(f"/kb/articles/{article.id}").text)) == 4
    )

    fresh = {"csrf": form["csrf"], "version": str(article.version)}
    missing = client.post(f"/kb/articles/{article.id}/versions/99/restore", data=fresh)
    assert missing.status_code == 404 and "no version 99" in missing.text

    # a dispatcher reads the history but restores nothing; an engineer sees neither
    sign_in("dispatcher")
    page = client.get(f"/kb/articles/{article.id}")
    assert len(_history(page.text)) == 4 and "Restore version" not in page.text
    token = csrf_of(page.text)
    assert (
        client.post(
            f"/kb/articles/{article.id}/versions/2/restore", data={**fresh, "csrf": token}
        ).status_code
        == 403
    )
    assert "Restore version" not in client.get(f"/kb/articles/{article.id}/versions/2").text
    sign_in("engineer")
    page = client.get(f"/kb/articles/{article.id}")
    assert page.status_code == 200 and 'id="history-title"' not in page.text
    assert client.get(f"/kb/articles/{article.id}/versions/2").status_code == 403
    db.refresh(article)
    assert article.body == "Clean the sill."


def test_kb_page_searches_published_articles_in_both_languages(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    author = f.make_user(db, role="agent")
    made = {
        key: articles.create_article(db, values=values, actor=author).id
        for key, values in {
            "pressure": {
                "title": "Heat pump pressure too low",
                "body": "Refill the circuit to 1.5 bar.",
                "status": "published",
            },
            "lift": {"title": "Lift door reopens", "body": "Clean the light curtain.", "status": "published"},
            "zh": {"title": "热泵压力过低", "body": "请给采暖系统补水。", "status": "published"},
            "draft": {"title": "Heat pump pressure draft", "body": "pressure pressure", "status": "draft"},
        }.items()
    }
    db.commit()
    for role in ("agent", "engineer"):
        sign_in(role)
        r = client.get("/kb", params={"q": "pressure drops on the heat pump"})
        assert r.status_code == 200
        found = [int(i) for i in re.findall(r'<li data-article="(\d+)">', r.text)]
        assert found[0] == made["pressure"] and made["draft"] not in found
        assert "<mark>" in r.text  # the highlighted title or snippet
    zh = client.get("/kb", params={"q": "压力", "lang": "zh"})
    assert [int(i) for i in re.findall(r'<li data-article="(\d+)">', zh.text)] == [made["zh"]]
    none = client.get("/kb", params={"q": "printer toner"})
    assert none.status_code == 200 and "Nothing published matches" in none.text
    odd = client.get("/kb", params={"q": "pressure", "lang": "xx"})
    assert odd.status_code == 200 and "Unknown language" in odd.text


def test_kb_page_finds_and_filters_german_articles(client: TestClient, db: Session, sign_in: Any) -> None:
    author = f.make_user(db, role="agent")
    values = {"body": "Heizkreis auf 1,5 bar füllen und die Heizkörper entlüften.", "status": "published"}
    german = articles.create_article(
        db, values={**values, "title": "Wärmepumpe: Druck zu niedrig"}, actor=author
    )
    english = articles.create_article(
        db,
        values={"title": "Heat pump pressure too low", "body": "Refill to 1.5 bar.", "status": "published"},
        actor=author,
    )
    db.commit()
    assert german.language == "de" and english.language == "en"  # detected
    sign_in("engineer")
    page = client.get("/kb", params={"q": "Druck Heizkörper entlüften", "lang": "de"})
    assert page.status_code == 200 and "Unknown language" not in page.text
    assert '<option value="de" selected>German</option>' in page.text
    assert [int(i) for i in re.findall(r'<li data-article="(\d+)">', page.text)] == [german.id]
    assert '<span class="badge">de</span>' in page.text
    browse = client.get("/kb", params={"lang": "de"})
    assert [int(i) for i in re.findall(r'<tr data-article="(\d+)">', browse.text)] == [german.id]


def test_kb_page_browses_by_status_with_pages(client: TestClient, db: Session, sign_in: Any) -> None:
    author = f.make_user(db, role="agent")
    for n in range(53):
        articles.create_article(
            db,
            values={"title": f"Article {n:02d}", "status": "draft" if n < 3 else "published"},
            actor=author,
        )
    db.commit()

    def listed(html: str) -> list[int]:
        return [int(i) for i in re.findall(r'<tr data-article="(\d+)">', html)]

    sign_in("agent")
    first = client.get("/kb")
    assert len(listed(first.text)) == 50
    older = re.search(r'href="(/kb\?[^"]*before=[^"]+)"', first.text)
    assert older, "no link to the older articles"
    rest = client.get(older.group(1).replace("&amp;", "&"))
    assert len(listed(rest.text)) == 3 and not set(listed(rest.text)) & set(listed(first.text))
    drafts = client.get("/kb", params={"status": "draft"})
    assert len(listed(drafts.text)) == 3 and "Draft articles" in drafts.text

    sign_in("engineer")  # published only, whatever the filter says
    assert len(listed(client.get("/kb", params={"status": "draft"}).text)) == 50
    assert 'name="status"' not in client.get("/kb").text

    for bad in (
        "x",
        "2026-01-01T00:00:00_5",
        "0001-01-01T00:00:00+14:00_5",
        "2026-01-01T00:00:00+00:00_99999999999999999999",
        "2026-01-01T00:00:00+00:00_2147483648",
    ):
        r = client.get("/kb", params={"before": bad})
        assert r.status_code == 200 and "That page link was not valid" in r.text
    sign_in("agent")
    assert "Unknown status" in client.get("/kb", params={"status": "gone"}).text


@pytest.mark.parametrize(("role", "offered"), [("agent", True), ("manager", True), ("dispatcher", False)])
def test_the_ticket_page_offers_a_draft_article_only_to_writers(
    client: TestClient, db: Session, sign_in: Any, role: str, offered: bool
) -> None:
    """A dispatcher works the desk but does not write articles: the button got them a 403."""
    ticket = f.open_ticket(db, f.make_account(db), subject="Display shows F.75")
    db.commit()
    sign_in(role)
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200
    assert ("Create an article from this ticket" in page.text) is offered
    assert (f'action="/desk/tickets/{ticket.id}/kb-article"' in page.text) is offered
