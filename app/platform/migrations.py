"""Run Alembic from code (CLI, tests, start-up)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from alembic import command
from app.platform.config import ROOT, get_settings

log = logging.getLogger(__name__)


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.attributes["configure_logger"] = False
    cfg.cmd_opts = None
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade_head(connection: Connection | None = None) -> None:
    settings = get_settings()
    if settings.is_sqlite and connection is None:
        path = settings.database_url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config()
    if connection is not None:
        cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def schema_problem(connection: Connection, *, newer_ok: bool = False) -> str | None:
    """What keeps this code from using the database, for a person, or None when the database is at
    the latest migration. `fieldline seed`, `serve` and `worker` refuse to start on an answer: a
    forgotten `fieldline migrate` otherwise surfaced as "no such table" on the first request.

    `newer_ok`: a database migrated by a newer release (a revision this code does not know) is only
    logged: the code rolled back after an upgrade must still start (docs/deploy.md)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = set(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    latest = set(script.get_heads())
    if not current:
        return "the database has no tables: run `fieldline migrate` first"
    known = {r.revision for r in script.walk_revisions()}
    if newer_ok and not current <= known:
        log.warning(
            "the database is at migration %s, newer than this release knows", ", ".join(sorted(current))
        )
        return None
    if current != latest:
        return (
            f"the database is at migration {', '.join(sorted(current))}, not the latest "
            f"({', '.join(sorted(latest))}): run `fieldline migrate` first"
        )
    return None


def schema_problem_at_start(url: str, *, newer_ok: bool = False) -> str | None:
    """`schema_problem` for a process about to start (CLI commands, a Celery worker's parent), read
    on an engine of its own with NullPool, disposed before returning: the app's pooled engine stays
    untouched, so a process that forks next (Celery's prefork pool, `fieldline worker`) hands its
    children no socket or file they would share. A SQLite file that does not exist is "no tables"
    without connecting (connecting would create it). Raises SQLAlchemyError when it cannot read."""
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else ""
    if path and path != ":memory:" and not Path(path).exists():
        return "the database has no tables: run `fieldline migrate` first"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return schema_problem(connection, newer_ok=newer_ok)
    finally:
        engine.dispose()
