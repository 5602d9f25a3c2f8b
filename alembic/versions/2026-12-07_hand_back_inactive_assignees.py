"""Open tickets of users who no longer work the desk go back to the unassigned queue

Since 2026-12-07 an account that stops working the desk (deactivated, or given the engineer role)
hands its open tickets back (``app.accounts.service.hand_back``). An account that stopped before kept
them: nobody works them, and the queue files them under their assignee, so no "Unassigned" view
shows them. Every ticket that is not resolved or closed and is assigned to an inactive user, or to
one whose role is not a desk role (agent, dispatcher, manager, admin), is handed back as
``hand_back`` hands back:

- ``assignee_id`` null, its edit ``version`` + 1 (a form opened before answers 409 instead of
  assigning it again) and ``updated_at``;
- a timeline entry (``ticket_event`` kind ``assigned``, no actor, ``{"from": user, "to": null}``)
  with the same words: "Back to the unassigned queue: Ann no longer works the desk.";
- an ``audit_log`` row (``ticket``/``update``, ``{"assignee_id": [user, null]}``, no actor);
- an open survey recovery among them moves to the recovery queue (``survey_recovery.queue``).

The rows are written here directly, not through ``hand_back``: a migration must do what it did when
it was written, and app code changes later (its models, its rules, the words of the timeline); the
words and the roles are frozen below. Only rows change, no schema, so no batch mode is needed on
SQLite. The downgrade gives nothing back: the assignees cannot work the tickets, and the timeline
says whose they were.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # tickets changed per statement
# app.accounts.service at this revision, frozen: who may hold desk tickets, which tickets are done,
# and the timeline's words.
DESK_ROLES = ("agent", "dispatcher", "manager", "admin")
DONE = ("resolved", "closed")
BODY = "Back to the unassigned queue: {name} no longer works the desk."

# The tables as they are at this revision: only the columns used.
user = sa.table(
    "user",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("role", sa.String),
    sa.column("is_active", sa.Boolean),
)
ticket = sa.table(
    "ticket",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("assignee_id", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.Integer),
)
ticket_event = sa.table(
    "ticket_event",
    sa.column("ticket_id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("kind", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("body", sa.Text),
    sa.column("data", sa.JSON),
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("user_id", sa.Integer),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("changes", sa.JSON),
)
survey_recovery = sa.table(
    "survey_recovery",
    sa.column("ticket_id", sa.Integer),
    sa.column("queue", sa.String),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(
        sa.select(ticket.c.id, ticket.c.assignee_id, user.c.name)
        .join(user, user.c.id == ticket.c.assignee_id)
        .where(
            ticket.c.status.not_in(DONE),
            sa.or_(user.c.is_active.is_not(True), user.c.role.not_in(DESK_ROLES)),
        )
        .order_by(ticket.c.id)
    ).all()
    now = datetime.now(UTC)
    for start in range(0, len(left), BATCH):
        rows = left[start : start + BATCH]
        ids = [r.id for r in rows]
        bind.execute(
            sa.update(ticket)
            .where(ticket.c.id.in_(ids))
            .values(assignee_id=None, version=ticket.c.version + 1, updated_at=now)
        )
        bind.execute(
            sa.insert(ticket_event),
            [
                {
                    "ticket_id": r.id,
                    "at": now,
                    "kind": "assigned",
                    "actor_id": None,
                    "body": BODY.format(name=r.name),
                    "data": {"from": r.assignee_id, "to": None},
                }
                for r in rows
            ],
        )
        bind.execute(
            sa.insert(audit_log),
            [
                {
                    "at": now,
                    "user_id": None,
                    "entity": "ticket",
                    "entity_id": r.id,
                    "action": "update",
                    "changes": {"assignee_id": [r.assignee_id, None]},
                }
                for r in rows
            ],
        )
        # An unowned recovery is the recovery queue's (app/feedback/recovery.py at this revision).
        bind.execute(
            sa.update(survey_recovery)
            .where(survey_recovery.c.ticket_id.in_(ids), survey_recovery.c.closed_at.is_(None))
            .values(queue="recovery")
        )


def downgrade() -> None:
    # The tickets stay unassigned: their former assignees cannot work them, and the timeline says
    # whose they were.
    pass
