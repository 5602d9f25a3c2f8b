"""indexes for the KPI reads: drill-down keyset pages, visit windows, refresh scans, open tickets;
kpi_day keeps duration minutes as float64 bytes (the aggregates are emptied: the next periodic
job rebuilds them)

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-05 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0015"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_TICKET = sa.text("resolved_at IS NULL AND closed_at IS NULL")
INDEXES = (
    ("ix_ticket_first_response_id", "ticket", ["first_response_at", "id"]),
    ("ix_ticket_arrived_id", "ticket", ["arrived_at", "id"]),
    ("ix_ticket_resolved_id", "ticket", ["resolved_at", "id"]),
    ("ix_ticket_updated_at", "ticket", ["updated_at"]),
    ("ix_work_order_checked_in", "work_order", ["checked_in_at"]),
    ("ix_work_order_updated_at", "work_order", ["updated_at"]),
    ("ix_survey_sent_id", "survey", ["sent_at", "id"]),
    (
        "ix_ticket_sla_first_response",
        "ticket",
        [sa.text("coalesce(first_response_at, first_response_due_at)"), "id"],
    ),
    ("ix_ticket_sla_arrival", "ticket", [sa.text("coalesce(arrived_at, arrival_due_at)"), "id"]),
    ("ix_ticket_sla_resolution", "ticket", [sa.text("coalesce(resolved_at, resolution_due_at)"), "id"]),
)


def _minutes_as(kind: sa.types.TypeEngine) -> None:  # type: ignore[type-arg]
    op.execute("DELETE FROM kpi_day")
    op.execute("DELETE FROM kpi_refresh")  # no refresh mark: the next job builds everything again
    with op.batch_alter_table("kpi_day") as batch:
        batch.drop_column("minutes")
        batch.drop_column("business_minutes")
        batch.add_column(sa.Column("minutes", kind, nullable=True))
        batch.add_column(sa.Column("business_minutes", kind, nullable=True))


def upgrade() -> None:
    _minutes_as(sa.LargeBinary())
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_index(
        "ix_ticket_open_opened",
        "ticket",
        ["opened_at"],
        sqlite_where=OPEN_TICKET,
        postgresql_where=OPEN_TICKET,
    )


def downgrade() -> None:
    _minutes_as(sa.JSON())
    op.drop_index("ix_ticket_open_opened", table_name="ticket")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
