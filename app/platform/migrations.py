"""Run Alembic from code (CLI, tests, start-up)."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy.engine import Connection

from alembic import command
from app.platform.config import ROOT, get_settings


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
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
    cfg = alembic_config()
    if connection is not None:
        cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
