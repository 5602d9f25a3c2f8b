"""Migration 0030 on a database holding a stock level with more reserved than in stock (a report
booked units held for other visits): the level is clamped, the holds of the visits planned last
are cut and audited, and only then the `reserved <= quantity` CHECK is added."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from alembic import command
from app.platform.migrations import alembic_config

NOW = "2026-12-07 08:00:00"


def _work_order(conn, wo_id: int, planned: str | None) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO work_order (id, number, ticket_id, account_id, site_id, region_id, priority, status,"
            " required_skills, duration_min, notes, planned_start_at, created_at, updated_at, version)"
            " VALUES (:id, :n, 1, 1, 1, 1, 'P3', 'scheduled', '[]', 60, '', :p, :now, :now, 1)"
        ),
        {"id": wo_id, "n": f"WO-{wo_id}", "p": planned, "now": NOW},
    )


def test_0030_clamps_reserved_cuts_the_latest_holds_and_adds_the_check(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")  # no FK pragma: bare rows will do
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0029")
        _work_order(conn, 1, "2026-12-08 09:00:00")
        _work_order(conn, 2, "2026-12-10 09:00:00")
        # 1 in stock, 3 reserved: visit 1 (tomorrow) holds 1, visit 2 (in three days) holds 2.
        conn.execute(
            text(
                "INSERT INTO stock_level (id, location_id, part_id, quantity, reserved, version)"
                " VALUES (7, 1, 1, 1, 3, 4)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO stock_level (id, location_id, part_id, quantity, reserved, version)"
                " VALUES (8, 1, 2, 5, 2, 1)"
            )
        )
        for res_id, wo_id, quantity in ((1, 1, 1), (2, 2, 2)):
            conn.execute(
                text(
                    "INSERT INTO stock_reservation"
                    " (id, work_order_id, part_id, location_id, quantity, status, created_at)"
                    " VALUES (:id, :wo, 1, 1, :q, 'held', :now)"
                ),
                {"id": res_id, "wo": wo_id, "q": quantity, "now": NOW},
            )
        command.upgrade(cfg, "0030")
        levels = conn.execute(
            text("SELECT id, quantity, reserved, version FROM stock_level ORDER BY id")
        ).all()
        holds = conn.execute(text("SELECT id, quantity, status FROM stock_reservation ORDER BY id")).all()
        audit = conn.execute(text("SELECT entity, entity_id, action FROM audit_log ORDER BY id")).all()
        # ... and from now on the database refuses it.
        with pytest.raises(IntegrityError, match="reserved_within_quantity"), conn.begin_nested():
            conn.execute(text("UPDATE stock_level SET reserved = 6 WHERE id = 8"))
    engine.dispose()
    assert [tuple(r) for r in levels] == [(7, 1, 1, 5), (8, 5, 2, 1)]  # the sound level untouched
    assert [tuple(r) for r in holds] == [(1, 1, "held"), (2, 2, "released")]  # the later visit lost its hold
    assert [tuple(r) for r in audit] == [("stock_reservation", 2, "released"), ("stock_level", 7, "repair")]
