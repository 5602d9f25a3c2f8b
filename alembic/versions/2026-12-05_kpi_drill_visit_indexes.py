"""indexes for the drill-down pages: first-time fix in check-out order, the visits of the same
asset or site around a page (repeats and first-time fix are judged among them), the SLA resumes
(reopened tickets), the open tickets in id order and those closed unresolved (backlog)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (("ix_work_order_checked_out_id", "work_order", ["checked_out_at", "id"]),)


PARTIAL = (
    ("ix_sla_event_resume_at", "sla_event", ["at"], sa.text("kind = 'resume'")),
    ("ix_ticket_open_id", "ticket", ["id"], sa.text("resolved_at IS NULL AND closed_at IS NULL")),
    ("ix_ticket_closed_unresolved", "ticket", ["closed_at"], sa.text("resolved_at IS NULL")),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    for name, table, columns, where in PARTIAL:
        op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, table, *_ in reversed(PARTIAL):
        op.drop_index(name, table_name=table)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
