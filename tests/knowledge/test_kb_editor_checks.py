"""The article editor's refusals name fields by their labels, and a new article whose title another
article of its language already has is not saved before the writer has seen that article."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.models import KbArticle
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.usefixtures("product_models")

NEW = {"status": "draft", "visibility": "internal", "language": ""}
SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")  # an internal field name ("product_models")


def _banner(html: str) -> str:
    found = re.search(r'<p class="alert" role="alert">([^<]*)</p>', html)
    assert found is not None, html
    return found.group(1)


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="kb-{name}-error">([^<]*)</p>', html)
    assert found is not None, f"no message under {name}"
    return found.group(1)


def _count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(KbArticle)) or 0


def test_a_refused_save_names_the_fields_by_their_labels(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """The banner said "product_models: HP-AR0T: …": the API's field name, not the editor's label."""
    sign_in("agent")
    csrf = csrf_of(client.get("/kb/new").text)
    refused = client.post(
        "/kb/new",
        data={
            **NEW,
            "csrf": csrf,
            "title": " ",
            "body": "Anlage füllen.",
            "product_models": "HP-AR0T",
            "fault_codes": "f 75",
            "language": "xx",
            "status": "gone",
            "visibility": "everyone",
        },
    )
    assert refused.status_code == 422
    banner = _banner(refused.text)
    assert banner.startswith("The article was not saved: ")
    for label, message in (
        ("Title", "must not be blank"),
        ("Status", "draft, published or archived"),
        ("Visibility", "internal or customer"),
        ("Language", "one of en"),
        ("Product models", "HP-AR0T: no product model has this code (did you mean HP-AROT?)"),
        ("Fault codes", "f 75: a fault code is letters and digits"),
    ):
        assert f"{label}: {message}" in banner, banner
    assert not SNAKE.search(banner), banner
    # under the field: the message alone, as before
    assert _field_error(refused.text, "product_models").startswith("HP-AR0T: no product model")
    assert 'id="kb-visibility-input" name="visibility" aria-invalid="true"' in refused.text

    # the form's own length checks: every text field named by its label, its message under it
    too_long = client.post(
        "/kb/new",
        data={
            **NEW,
            "csrf": csrf,
            "title": "Pumpe",
            "symptom": "s" * 20001,
            "resolution_steps": "r" * 20001,
            "tags": "t" * 2001,
        },
    )
    assert too_long.status_code == 422
    banner = _banner(too_long.text)
    for label in ("Symptom", "Resolution steps", "Tags"):
        assert f"{label}: at most" in banner, banner
    assert not SNAKE.search(banner), banner
    for name in ("symptom", "resolution_steps", "tags"):
        assert _field_error(too_long.text, name).startswith("at most")
    assert _count(db) == 0

    # and when an existing article is edited
    created = client.post(
        "/kb/new", data={**NEW, "csrf": csrf, "title": "Pumpe", "language": "de"}, follow_redirects=True
    )
    article_id = int(re.search(r"KB-(\d+)", created.text).group(1))  # type: ignore[union-attr]
    edited = client.post(
        f"/kb/articles/{article_id}/edit",
        data={
            **NEW,
            "csrf": csrf,
            "version": "1",
            "title": "Pumpe",
            "language": "de",
            "product_models": "CH-30XV",
        },
    )
    assert edited.status_code == 422
    banner = _banner(edited.text)
    assert "Product models: CH-30XV: no product model has this code (did you mean CH-30XW?)" in banner
    assert not SNAKE.search(banner), banner


def test_a_new_article_with_an_existing_title_asks_first(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    """Three articles titled alike were saved without a word; now the editor names the others."""
    agent = sign_in("agent")
    first = articles.create_article(
        db, values={"title": "Pumpe läuft nicht an", "language": "de", "status": "published"}, actor=agent
    )
    # not counted: archived, or another language
    articles.create_article(
        db, values={"title": "Pumpe läuft nicht an", "language": "de", "status": "archived"}, actor=agent
    )
    articles.create_article(db, values={"title": "Pumpe lauft nicht an", "language": "en"}, actor=agent)
    db.commit()
    before = _count(db)
    csrf = csrf_of(client.get("/kb/new").text)
    typed = {
        **NEW,
        "csrf": csrf,
        "title": "  PUMPE   LAUFT nicht an ",
        "language": "de",
        "body": "Sicherung prüfen.",
    }

    asked = client.post("/kb/new", data=typed)
    assert asked.status_code == 409 and _count(db) == before  # nothing saved yet
    named = re.findall(
        r'<a href="/kb/articles/(\d+)" target="_blank" rel="noopener">KB-\d+ ([^<]*)</a>', asked.text
    )
    assert named == [(str(first.id), "Pumpe läuft nicht an")]
    assert f'name="same_title" value="{first.id}"' in asked.text and "Save anyway" in asked.text
    assert "Sicherung prüfen.</textarea>" in asked.text  # what was typed is kept

    saved = client.post("/kb/new", data={**typed, "same_title": str(first.id)}, follow_redirects=False)
    assert saved.status_code == 303 and _count(db) == before + 1
    second = db.scalar(select(KbArticle).order_by(KbArticle.id.desc()).limit(1))
    assert second is not None and second.title == "PUMPE   LAUFT nicht an".strip()

    # the third is asked about both; confirming only the one seen before is not enough
    third = client.post(
        "/kb/new", data={**typed, "title": "Pumpe läuft nicht an", "same_title": str(first.id)}
    )
    assert third.status_code == 409 and _count(db) == before + 1
    assert f'name="same_title" value="{first.id},{second.id}"' in third.text
    # another title: no question
    other = client.post(
        "/kb/new", data={**typed, "title": "Pumpe läuft nicht an, Fehler F.75"}, follow_redirects=False
    )
    assert other.status_code == 303 and _count(db) == before + 2


def test_the_api_accepts_an_existing_title(client: TestClient, login: Any) -> None:
    """Titles are not keys, and an API client has no one to ask: a same-titled article is created."""
    agent = login("agent")
    body = {"title": "Pump does not start", "language": "en", "status": "published"}
    ids = [client.post("/api/v1/kb/articles", json=body, headers=agent) for _ in range(2)]
    assert [r.status_code for r in ids] == [201, 201]
