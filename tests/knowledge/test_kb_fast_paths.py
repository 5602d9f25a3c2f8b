"""The product's use of the library's fast paths: suggestions fetched while the agent types skip the
encoder, a vote patches a large index's boosts in place (no background rebuild), and a process that has
to build from the database re-embeds only texts it has never seen (the vector cache in the data
directory)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.knowledge.index import IndexCache, mark_changed, read_version, set_process_cache
from app.models import KbArticle, User
from app.platform.config import get_settings
from tests import factories as f
from tests.knowledge_base.kb_fixtures import HashEncoder


def _write(db: Session, author: User, title: str, body: str) -> KbArticle:
    article = articles.create_article(
        db, values={"title": title, "body": body, "status": "published"}, actor=author
    )
    db.commit()
    return article


@pytest.fixture
def encoder(tmp_path: Path) -> Iterator[HashEncoder]:
    model = HashEncoder()
    set_process_cache(IndexCache(tmp_path / "hybrid-index", encoder=model))
    yield model
    set_process_cache(None)


def test_suggestions_while_typing_use_the_encoder_unless_turned_off(
    client: TestClient, db: Session, login: Any, encoder: HashEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = login("agent")
    author = f.make_user(db, role="agent")
    pump = _write(db, author, "Pump leaking at the shaft seal", "Replace the mechanical seal.")
    account = f.make_account(db, region=f.make_region(db))
    ticket = f.open_ticket(db, account, subject="Pump leaking", description="water under the pump")
    db.commit()
    url = f"/api/v1/tickets/{ticket.id}/suggestions"

    typed = client.get(url, params={"description": "water under the pump seal"}, headers=agent)
    assert typed.status_code == 200 and typed.json()["items"][0]["article_id"] == pump.id
    assert len(encoder.queries) == 1  # the same ranker as the page and the search

    saved = client.get(url, headers=agent)  # the saved ticket (page load)
    assert saved.json()["items"][0]["article_id"] == pump.id and len(encoder.queries) == 2

    # KB_TYPING_EMBEDDINGS=0 (a box too slow to encode per keystroke): typing ranks BM25 only
    monkeypatch.setattr(get_settings(), "kb_typing_embeddings", False)
    typed = client.get(url, params={"description": "a drip under the pump"}, headers=agent)
    assert typed.json()["items"][0]["article_id"] == pump.id and len(encoder.queries) == 2


def test_suggestions_found_by_meaning_alone_say_so(
    client: TestClient, db: Session, login: Any, sign_in: Any, encoder: HashEncoder
) -> None:
    # "xyzzy" shares no word with any article, yet the encoder always has a nearest one: five such
    # suggestions looked as sure as real matches.
    author = f.make_user(db, role="agent")
    pump = _write(db, author, "Pump leaking at the shaft seal", "Replace the mechanical seal.")
    _write(db, author, "Lift door does not close", "Clean the light curtain.")
    account = f.make_account(db, region=f.make_region(db))
    ticket = f.open_ticket(db, account, subject="xyzzy", description="")
    db.commit()
    agent = login("agent")
    nonsense = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent).json()["items"]
    assert nonsense and not any(h["shares_words"] for h in nonsense)
    real = client.get(
        f"/api/v1/tickets/{ticket.id}/suggestions", params={"subject": "pump seal"}, headers=agent
    ).json()["items"]
    assert real[0]["article_id"] == pump.id and real[0]["shares_words"]

    sign_in("agent")
    page = client.get(f"/desk/tickets/{ticket.id}").text
    assert "none shares a word with the ticket, so they are only close in meaning" in page
    assert page.count('class="small muted meaning-only"') == len(nonsense)
    found = client.get("/kb", params={"q": "xyzzy"}).text
    assert 'id="kb-meaning-only"' in found and "close in meaning only" in found
    found = client.get("/kb", params={"q": "pump seal"}).text
    assert 'id="kb-meaning-only"' not in found


def test_a_vote_patches_a_large_index_in_place(db: Session) -> None:
    author = f.make_user(db, role="agent")
    twins = [_write(db, author, "Pump leaking at the seal", "Replace the seal.") for _ in range(2)]
    big = IndexCache(None, embeddings=False, sync_limit=1)
    order = [h.article_id for h in big.use(db, lambda index: index.search("pump leaking", 5))]
    assert order == [str(twins[0].id), str(twins[1].id)]
    index = big.use(db, lambda index: index)
    builds = index.builds

    underdog = db.get(KbArticle, twins[1].id)
    assert underdog is not None
    underdog.solved_count = 3
    mark_changed(db, underdog.id)
    db.commit()
    order = [h.article_id for h in big.use(db, lambda index: index.search("pump leaking", 5))]
    assert order == [str(twins[1].id), str(twins[0].id)]  # answered with the new boost at once
    assert big.use(db, lambda index: index) is index and index.builds == builds  # no rebuild, no swap
    assert big.boost_updates == 1 and big.refreshes == 0 and big.version == read_version(db)

    # A text edit is not a boost: it takes the background refresh.
    articles.update_article(db, underdog, values={"body": "Tighten the gland."}, actor=author)
    db.commit()
    big.use(db, lambda index: index)
    big.wait_for_refresh()
    assert big.refreshes == 1 and big.boost_updates == 1


def test_a_rebuild_from_the_database_reuses_cached_vectors(db: Session, tmp_path: Path) -> None:
    author = f.make_user(db, role="agent")
    directory = tmp_path / "kb"
    first = HashEncoder()
    cache = IndexCache(directory, encoder=first)
    set_process_cache(cache)
    try:
        lift = _write(db, author, "Lift door does not close", "Clean the light curtain.")
        _write(db, author, "Chiller trips on high pressure", "Clean the condenser.")
        cache.use(db, lambda index: index.search("lift door", 5))
        assert len(first.seen) == 4  # two articles: title field and text each
        shutil.rmtree(cache.folder())  # type: ignore[arg-type]  # no persisted index to load

        second = HashEncoder()
        fresh = IndexCache(directory, encoder=second)  # a new process that must build from the database
        hits = fresh.use(db, lambda index: index.search("lift door", 5))
        assert hits[0].article_id == str(lift.id) and hits[0].semantic_score is not None
        assert second.seen == [] and fresh.loads_from_file == 0
    finally:
        set_process_cache(None)
