"""Migration 0021 on a database that already had KPI aggregates: the travel-share rows built under
the old rule (a day without a plan counted as no driving) are dropped and every aggregated day is
marked for the engineer-day rebuild; the other metrics' rows stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from alembic import command
from app.platform.migrations import alembic_config


def test_0021_drops_old_travel_share_rows_and_marks_the_days_for_a_rebuild(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    today = datetime.now(UTC).date()
    built_from = today - timedelta(days=3)
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0020")
        conn.execute(
            text("INSERT INTO kpi_refresh (id, built_from, refreshed_at) VALUES (1, :d, :at)"),
            {"d": built_from, "at": datetime.now(UTC)},
        )
        for metric in ("travel_share", "utilisation"):
            conn.execute(
                text("INSERT INTO kpi_day (metric, key, value, day, n, hits) VALUES (:m, '', '', :d, 3, 0)"),
                {"m": metric, "d": built_from},
            )
        command.upgrade(cfg, "0021")
        metrics = conn.execute(text("SELECT metric FROM kpi_day")).scalars().all()
        marked = conn.execute(text("SELECT scope, day FROM kpi_dirty ORDER BY day")).all()
    engine.dispose()
    assert metrics == ["utilisation"]
    assert [scope for scope, _ in marked] == ["shifts"] * 5  # built_from … today + 1
    assert (str(marked[0][1]), str(marked[-1][1])) == (str(built_from), str(today + timedelta(days=1)))
