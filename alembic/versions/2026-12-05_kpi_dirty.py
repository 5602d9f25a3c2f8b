"""kpi_dirty: what a change to tickets, visits or surveys can move in kpi_day, recorded in the
same transaction by a session hook (app/insights/changes.py) and consumed by the periodic refresh;
indexes on a visit's target (asset, else site) for the return-window neighbours of a changed visit

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-05 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0019"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_work_order_asset_checked_in", "work_order", ["asset_id", "checked_in_at"]),
    ("ix_work_order_site_checked_in", "work_order", ["site_id", "checked_in_at"]),
)


def upgrade() -> None:
    op.create_table(
        "kpi_dirty",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("target", sa.String(length=40), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("kpi_dirty")
