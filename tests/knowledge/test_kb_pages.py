"""The article pages: the prefilled draft from a ticket opens in the editor, saving makes a version,
an edit based on an old version is 409 with the text kept, roles."""

from __future__ import annotations

import re
from typing import Any

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
