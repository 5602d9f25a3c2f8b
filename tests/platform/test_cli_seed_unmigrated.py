"""`fieldline seed` on a database that was never migrated (or not to the latest migration) says to run
`fieldline migrate` first (exit 2), instead of failing on its first insert with "no such table";
`fieldline serve` and `fieldline worker` refuse to start on it the same way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
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


def _old_schema(path: Path, revision: str = "0001") -> None:
    path.parent.mkdir()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        connection.execute("INSERT INTO alembic_version VALUES (?)", (revision,))


def _started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    from app.platform import serve as server

    started: list[Any] = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    return started


def test_serve_refuses_to_start_on_an_older_migration(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy that forgot `fieldline migrate` used to start and answer every request 503."""
    started = _started(monkeypatch)
    _old_schema(other_db)
    result = CliRunner().invoke(cli, ["serve"])
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and started == []
    assert "the database is at migration 0001, not the latest" in said and "fieldline migrate" in said


def test_serve_refuses_a_database_without_tables(other_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started = _started(monkeypatch)
    other_db.parent.mkdir()
    sqlite3.connect(other_db).close()
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2 and started == []
    assert "the database has no tables: run `fieldline migrate` first" in result.output


def test_serve_starts_on_a_database_a_newer_release_migrated(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rolling the code back after an upgrade must still start: a revision this code does not know
    is logged, not refused (seed, which writes every table, still refuses it)."""
    started = _started(monkeypatch)
    _old_schema(other_db, "9999_from_the_future")
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert len(started) == 1
    refused, ran = _seed(monkeypatch)
    assert refused.exit_code == 2 and ran == []


def test_worker_refuses_to_start_on_an_older_migration(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.worker import celery_app

    ran: list[Any] = []
    monkeypatch.setattr(get_settings(), "celery_broker_url", "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(celery_app, "worker_main", ran.append)
    _old_schema(other_db)
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 2 and ran == []
    assert "run `fieldline migrate` first" in " ".join(result.output.split())


def test_the_tests_database_is_at_the_latest_migration(db: Session) -> None:
    """The check passes on a migrated database (the one the tests run on)."""
    from app.platform.migrations import schema_problem

    assert schema_problem(db.connection()) is None


def test_serve_starts_when_the_database_is_down_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """An outage at start-up is not a schema problem: requests meet it as a 503 and retry."""

    def down() -> Session:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    started = _started(monkeypatch)
    monkeypatch.setattr(get_settings(), "database_url", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(app.platform.db, "new_session", down)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and "cannot check the database's migration now" in result.output


def test_worker_checks_without_the_apps_pooled_engine(
    other_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fieldline worker` forks its Celery pool right after the check: a connection left in the
    app's pool would be inherited and shared by the children. The check uses an engine of its own."""
    from alembic.script import ScriptDirectory

    from app.platform.migrations import alembic_config
    from app.worker import celery_app

    def app_session() -> Session:
        raise AssertionError("the start-up check opened a session on the app's engine")

    ran: list[Any] = []
    monkeypatch.setattr(get_settings(), "celery_broker_url", "redis://127.0.0.1:6379/15")
    monkeypatch.setattr(celery_app, "worker_main", ran.append)
    monkeypatch.setattr(app.platform.db, "new_session", app_session)
    (head,) = ScriptDirectory.from_config(alembic_config()).get_heads()
    _old_schema(other_db, head)
    result = CliRunner().invoke(cli, ["worker"])
    assert result.exit_code == 0, result.output
    assert len(ran) == 1
