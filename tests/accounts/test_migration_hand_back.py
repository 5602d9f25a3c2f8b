"""The migration that hands back what accounts deactivated before the hand-back left: a database at
the revision before it, with open tickets still assigned to an inactive agent and to an agent made
an engineer, is upgraded; those tickets are unassigned with the service's timeline entry and an audit
row, and the rest keeps its assignee. On SQLite a new file; on PostgreSQL a schema of its own in the
test database (dropped afterwards)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from alembic import command
from app.platform.migrations import alembic_config
from tests.migration_db import empty_database

MIGRATION = Path(__file__).parents[2] / "alembic" / "versions" / "2026-12-07_hand_back_inactive_assignees.py"
SCHEMA = "migration_hand_back"  # PostgreSQL only


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_hand_back", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _user(conn: Connection, name: str, role: str, active: bool) -> int:
    return int(
        conn.execute(
            text(
                'INSERT INTO "user" (email, name, role, password_hash, is_active, created_at, token_version,'
                " version) VALUES (:email, :name, :role, 'x', :active, :at, 0, 1) RETURNING id"
            ),
            {"email": f"{name.split()[0].lower()}@old.example", "name": name, "role": role, "active": active}
            | {"at": datetime.now(UTC)},
        ).scalar_one()
    )


def _ticket(conn: Connection, account_id: int, number: str, assignee: int, status: str = "open") -> int:
    now = datetime.now(UTC)
    return int(
        conn.execute(
            text(
                "INSERT INTO ticket (number, account_id, channel, subject, description, category, priority,"
                " status, assignee_id, sla_tier, opened_at, sla_paused, sla_breached, updated_at, version)"
                " VALUES (:number, :account, 'phone', 'Cold room too warm', '', '', 'P2', :status,"
                " :assignee, 'standard', :at, false, false, :at, 3) RETURNING id"
            ),
            {"number": number, "account": account_id, "status": status, "assignee": assignee, "at": now},
        ).scalar_one()
    )


def test_upgrade_hands_back_open_tickets_of_users_who_no_longer_work_the_desk(
    engine: Engine, tmp_path: Path
) -> None:
    migration = _module()
    with empty_database(engine, tmp_path, SCHEMA) as old, old.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, migration.down_revision)
        assert conn.execute(text("SELECT count(*) FROM ticket")).scalar_one() == 0  # a new database
        account = conn.execute(
            text(
                "INSERT INTO account (name, name_search, tier, segment, created_at, version)"
                " VALUES ('Gasthof Kellner', 'gasthof kellner', 'standard', 'smb', :at, 1) RETURNING id"
            ),
            {"at": datetime.now(UTC)},
        ).scalar_one()
        maria = _user(conn, "Maria Lopez", "agent", active=False)
        ida = _user(conn, "Ida Iversen", "engineer", active=True)  # an agent made an engineer
        ann = _user(conn, "Ann Agent", "agent", active=True)
        ada = _user(conn, "Ada Admin", "admin", active=True)
        hers = _ticket(conn, account, "T-0000001", maria)
        waiting = _ticket(conn, account, "T-0000002", maria, status="waiting_on_customer")
        resolved = _ticket(conn, account, "T-0000003", maria, status="resolved")
        engineers = _ticket(conn, account, "T-0000004", ida)
        anns = _ticket(conn, account, "T-0000005", ann)
        adas = _ticket(conn, account, "T-0000006", ada)

        command.upgrade(cfg, migration.revision)

        assignees: dict[int, int | None] = dict(
            conn.execute(text("SELECT id, assignee_id FROM ticket")).tuples().all()
        )
        versions: dict[int, int] = dict(conn.execute(text("SELECT id, version FROM ticket")).tuples().all())
        events = conn.execute(
            text("SELECT ticket_id, kind, actor_id, body, data FROM ticket_event ORDER BY ticket_id")
        ).all()
        audits = conn.execute(
            text("SELECT entity, entity_id, action, user_id, changes FROM audit_log ORDER BY entity_id")
        ).all()
    assert assignees == {hers: None, waiting: None, resolved: maria, engineers: None, anns: ann, adas: ada}
    assert {t: v for t, v in versions.items() if assignees[t] is None} == {hers: 4, waiting: 4, engineers: 4}
    assert [(e.ticket_id, e.kind, e.actor_id, e.body) for e in events] == [
        (hers, "assigned", None, "Back to the unassigned queue: Maria Lopez no longer works the desk."),
        (waiting, "assigned", None, "Back to the unassigned queue: Maria Lopez no longer works the desk."),
        (engineers, "assigned", None, "Back to the unassigned queue: Ida Iversen no longer works the desk."),
    ]
    assert [_json(e.data) for e in events] == [
        {"from": maria, "to": None},
        {"from": maria, "to": None},
        {"from": ida, "to": None},
    ]
    assert [(a.entity, a.entity_id, a.action, a.user_id, _json(a.changes)) for a in audits] == [
        ("ticket", hers, "update", None, {"assignee_id": [maria, None]}),
        ("ticket", waiting, "update", None, {"assignee_id": [maria, None]}),
        ("ticket", engineers, "update", None, {"assignee_id": [ida, None]}),
    ]


def _json(value: object) -> object:
    import json

    return json.loads(value) if isinstance(value, str) else value  # SQLite returns the text
