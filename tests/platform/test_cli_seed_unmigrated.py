"""`fieldline seed` on a database that was never migrated (or not to the latest migration) says to run
`fieldline migrate` first (exit 2), instead of failing on its first insert with "no such table"."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import app.platform.db
import app.seed.cli
from app.cli import cli
from app.platform.config import get_settings


@pytest.fixture
def other_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI pointed at a database file of its own (not the tests' migrated one); seeding recorded."""
    path = tmp_path / "var" / "fieldline.db"
    url = f"sqlite:///{path}"
    monkeypatch.setattr(get_settings(), "database_url", url)
    engine = create_engine(url)
    monkeypatch.setattr(app.platform.db, "new_session", lambda: Session(engine))
    yield path
    engine.dispose()


def _seed(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    ran: list[Any] = []
    monkeypatch.setattr(app.seed.cli, "run_seed", lambda *a, **kw: ran.append(kw))
    return CliRunner().invoke(cli, ["seed", "--customers", "5"]), ran


def test_seed_on_a_fresh_database_says_to_migrate_first(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing, ran = _seed(monkeypatch)  # the file does not exist (var/ neither): it is not made
    assert missing.exit_code == 2 and ran == [] and not other_db.parent.exists()
    assert "the database has no tables: run `fieldline migrate` first" in missing.output
    other_db.parent.mkdir()
    sqlite3.connect(other_db).close()  # an empty database file
    empty, ran = _seed(monkeypatch)
    assert empty.exit_code == 2 and ran == []
    assert "the database has no tables: run `fieldline migrate` first" in empty.output


def test_seed_on_an_older_migration_says_to_migrate_first(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_db.parent.mkdir()
    with sqlite3.connect(other_db) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES ('0001')")
    result, ran = _seed(monkeypatch)
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and ran == []
    assert (
        "the database is at migration 0001, not the latest" in said
        and "run `fieldline migrate` first" in said
    )
