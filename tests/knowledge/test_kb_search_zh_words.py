"""A Chinese search marks an article that shares only a character with the query (电压 for 高压) as
found by meaning, in the API and on /kb (knowledge_base's shares_words)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge import articles
from tests import factories as f


def test_a_shared_character_is_not_a_shared_word(
    client: TestClient, db: Session, login: Any, sign_in: Any
) -> None:
    author = f.make_user(db, role="agent")
    for title, body in (
        ("热泵高压报警", "冷凝器脏堵导致高压报警。"),
        ("发电机输出电压不稳", "检查电压调节器。"),
    ):
        articles.create_article(
            db, values={"title": title, "body": body, "status": "published"}, actor=author
        )
    db.commit()
    found = client.get("/api/v1/kb/search", params={"q": "高压"}, headers=login("agent")).json()["items"]
    assert [(h["title"], h["shares_words"]) for h in found] == [
        ("热泵高压报警", True),
        ("发电机输出电压不稳", False),
    ]
    sign_in("agent")
    page = client.get("/kb", params={"q": "高压"}).text
    assert page.count("close in meaning only") == 1
