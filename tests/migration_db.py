"""An empty database for a migration test, to upgrade step by step: on SQLite a new file; on
PostgreSQL a schema of its own in the test database (dropped afterwards), so a migration is
tested against the database it will meet in production (foreign keys, types, constraint names)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text


@contextmanager
def empty_database(engine: Engine, tmp_path: Path, schema: str) -> Iterator[Engine]:
    """`engine`: the suite's (it tells the dialect); `schema`: a name unique to the test."""
    if engine.dialect.name != "postgresql":
        fresh = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield fresh
        fresh.dispose()
        return
    url = engine.url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
        # Alembic looks for its table on the search path: without one here it would read public's
        # (the suite's database, at head) and migrate nothing.
        conn.execute(text(f"CREATE TABLE {schema}.alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
    # public stays on the path for pg_trgm's operator classes; the tables go to the first schema.
    fresh = create_engine(url, connect_args={"options": f"-csearch_path={schema},public"})
    try:
        yield fresh
    finally:
        fresh.dispose()
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
