"""The Alembic migrations create exactly what the models describe (SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from app.platform.db import Base


def test_upgrade_head_matches_models(engine: Engine) -> None:
    # The session fixture already ran `alembic upgrade head` on a fresh schema.
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], f"models and migrations differ: {diff}"
