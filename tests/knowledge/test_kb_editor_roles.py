"""Who is refused the editor is told who writes articles (agents, managers, admins), not who may open
the service desk: dispatchers may open the desk and still cannot write articles."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge import articles
from tests import factories as f
from tests.web.conftest import csrf_of

WRITERS = "Writing knowledge articles needs one of the roles: admin, agent, manager."


@pytest.mark.parametrize("role", ["engineer", "dispatcher"])
def test_the_editor_names_who_writes_articles(
    client: TestClient, db: Session, sign_in: Any, role: str
) -> None:
    author = f.make_user(db, role="agent")
    article = articles.create_article(
        db, values={"title": "Lift door", "body": "x", "status": "published"}, actor=author
    )
    db.commit()
    sign_in(role)
    opened = client.get(f"/kb/articles/{article.id}/edit")
    assert opened.status_code == 403 and WRITERS in opened.text
    assert "service desk" not in opened.text
    token = csrf_of(client.get("/kb").text)
    saved = client.post(
        f"/kb/articles/{article.id}/edit", data={"csrf": token, "title": "Mine", "version": "1"}
    )
    assert saved.status_code == 403 and WRITERS in saved.text
    db.refresh(article)
    assert article.title == "Lift door" and article.version == 1
