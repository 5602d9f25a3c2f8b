"""On SQLite, reads (GET requests) begin DEFERRED and read the WAL snapshot while a writer holds
the write lock; writes still begin IMMEDIATE and queue for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.platform.db import make_engine, read_only_transactions
from tests import factories


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.db'}", busy_timeout_s=0.2)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
        conn.execute(text("INSERT INTO note (body) VALUES ('committed')"))
    yield engine
    engine.dispose()


def test_a_read_runs_while_a_write_transaction_holds_the_lock(sqlite_file: Engine) -> None:
    with sqlite_file.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: the write lock
        writer.execute(text("INSERT INTO note (body) VALUES ('not yet committed')"))
        with read_only_transactions(), Session(sqlite_file) as reader:
            # the last committed state, at once (busy_timeout is 0.2 s: a wait would fail)
            assert reader.scalars(text("SELECT body FROM note ORDER BY id")).all() == ["committed"]
        # a writer still queues for the lock, and gives up after busy_timeout
        with Session(sqlite_file) as other_writer, pytest.raises(OperationalError, match="locked"):
            other_writer.execute(text("SELECT 1"))
        writer.commit()
    with read_only_transactions(), Session(sqlite_file) as reader:
        assert reader.scalar(text("SELECT count(*) FROM note")) == 2


def test_get_requests_answer_while_a_writer_holds_the_lock(engine: Engine, committed_db: Session) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock")
    from app.main import app

    user = factories.make_user(committed_db, role="agent")
    committed_db.commit()
    headers = factories.bearer(user)

    async def reads() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as client:
            return [await client.get("/api/v1/health"), await client.get("/api/v1/customers?q=Nobody")]

    try:
        with engine.connect() as writer:
            writer.begin()  # BEGIN IMMEDIATE: holds the write lock until the end of the block
            writer.execute(text('UPDATE "user" SET name = name WHERE id = :id'), {"id": user.id})
            health, search = asyncio.run(reads())
            writer.rollback()
        assert health.status_code == 200 and health.json()["database"] == "ok", health.text
        assert search.status_code == 200 and search.json()["items"] == [], search.text
    finally:
        committed_db.delete(user)
        committed_db.commit()
