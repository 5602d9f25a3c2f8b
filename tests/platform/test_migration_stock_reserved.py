"""Migration 0030 on a database holding a stock level with more reserved than in stock (a report
booked units held for other visits): the level is clamped, the holds of the visits planned last
are cut and audited, and only then the `reserved <= quantity` CHECK is added. On SQLite a new
file; on PostgreSQL a schema of its own in the test database, with every row the foreign keys need."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from alembic import command
from app.platform.migrations import alembic_config
from tests.migration_db import empty_database

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
SCHEMA = "migration_stock_reserved"  # PostgreSQL only


def _parents(conn: Connection) -> None:
    """Region, account, site, ticket, stock location and two parts, each with id 1 (and 2)."""
    now = {"now": NOW}
    conn.execute(text("INSERT INTO region (id, code, name, timezone) VALUES (1, 'N', 'North', 'UTC')"))
    conn.execute(
        text(
            "INSERT INTO account (id, name, name_search, tier, segment, created_at, version)"
            " VALUES (1, 'Gasthof Kellner', 'gasthof kellner', 'standard', 'smb', :now, 1)"
        ),
        now,
    )
    conn.execute(
        text(
            "INSERT INTO site (id, account_id, name, address, latitude, longitude, access_notes, version)"
            " VALUES (1, 1, 'Kitchen', 'Hauptstr. 1', 48.1, 11.5, '', 1)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO ticket (id, number, account_id, channel, subject, description, category, priority,"
            " status, sla_tier, opened_at, sla_paused, sla_breached, updated_at, version)"
            " VALUES (1, 'T-0000001', 1, 'phone', 'Cold room too warm', '', '', 'P3', 'open', 'standard',"
            " :now, false, false, :now, 1)"
        ),
        now,
    )
    conn.execute(
        text(
            "INSERT INTO warehouse (id, name, region_id, address, latitude, longitude, opens, closes,"
            " pickup_min) VALUES (1, 'North depot', 1, 'Lagerweg 2', 48.2, 11.6, '07:00', '18:00', 10)"
        )
    )
    conn.execute(text("INSERT INTO stock_location (id, kind, warehouse_id) VALUES (1, 'warehouse', 1)"))
    for part_id in (1, 2):
        conn.execute(
            text("INSERT INTO part (id, sku, name, unit_cost, version) VALUES (:id, :sku, 'Fan', 12.5, 1)"),
            {"id": part_id, "sku": f"FAN-{part_id}"},
        )


def _work_order(conn: Connection, wo_id: int, planned: datetime | None) -> None:
    conn.execute(
        text(
            "INSERT INTO work_order (id, number, ticket_id, account_id, site_id, region_id, priority, status,"
            " required_skills, duration_min, notes, planned_start_at, created_at, updated_at, version)"
            " VALUES (:id, :n, 1, 1, 1, 1, 'P3', 'scheduled', '[]', 60, '', :p, :now, :now, 1)"
        ),
        {"id": wo_id, "n": f"WO-{wo_id}", "p": planned, "now": NOW},
    )


def test_0030_clamps_reserved_cuts_the_latest_holds_and_adds_the_check(
    engine: Engine, tmp_path: Path
) -> None:
    with empty_database(engine, tmp_path, SCHEMA) as old, old.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0029")
        _parents(conn)
        _work_order(conn, 1, datetime(2026, 12, 8, 9, 0, tzinfo=UTC))
        _work_order(conn, 2, datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
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
        holds = conn.execute(
            text("SELECT id, quantity, status, closed_at IS NOT NULL FROM stock_reservation ORDER BY id")
        ).all()
        audit = conn.execute(
            text("SELECT entity, entity_id, action, user_id, changes FROM audit_log ORDER BY id")
        ).all()
        # ... and from now on the database refuses it.
        with pytest.raises(IntegrityError, match="reserved_within_quantity"), conn.begin_nested():
            conn.execute(text("UPDATE stock_level SET reserved = 6 WHERE id = 8"))
    assert [tuple(r) for r in levels] == [(7, 1, 1, 5), (8, 5, 2, 1)]  # the sound level untouched
    # the later visit lost its hold
    assert [tuple(r) for r in holds] == [(1, 1, "held", False), (2, 2, "released", True)]
    assert [(a.entity, a.entity_id, a.action, a.user_id) for a in audit] == [
        ("stock_reservation", 2, "released", None),
        ("stock_level", 7, "repair", None),
    ]
    reason = "stock_level repair (migration 0030): more units were reserved than in stock"
    assert [_json(a.changes) for a in audit] == [
        {"quantity": [2, 0], "work_order_id": [None, 2], "reason": [None, reason]},
        {"reserved": [3, 1], "reason": [None, reason]},
    ]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value  # SQLite returns the text
