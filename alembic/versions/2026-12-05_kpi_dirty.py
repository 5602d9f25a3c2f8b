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


# The changes made since the last refresh under the `updated_at` design are not in kpi_dirty yet:
# mark them as that design found them (every day of each changed ticket; each changed visit's
# check-in and check-out days at its target), so the first refresh after the upgrade misses none.
SINCE = "(SELECT refreshed_at FROM kpi_refresh WHERE id = 1)"
TARGET = "CASE WHEN asset_id IS NOT NULL THEN 'asset:' || asset_id ELSE 'site:' || site_id END"
CARRY_OVER = (
    f"INSERT INTO kpi_dirty (scope, ticket_id) SELECT 'ticket', id FROM ticket WHERE updated_at >= {SINCE}",
    "INSERT INTO kpi_dirty (scope, ticket_id) SELECT DISTINCT 'ticket', ticket_id FROM work_order "
    f"WHERE updated_at >= {SINCE}",
    *(
        f"INSERT INTO kpi_dirty (scope, day, target, ticket_id) SELECT 'visits', date({column}), {TARGET}, "
        f"ticket_id FROM work_order WHERE updated_at >= {SINCE} AND {column} IS NOT NULL"
        for column in ("checked_in_at", "checked_out_at")
    ),
    "INSERT INTO kpi_dirty (scope, day) SELECT DISTINCT 'shifts', date(checked_in_at) FROM work_order "
    f"WHERE updated_at >= {SINCE} AND checked_in_at IS NOT NULL",
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
    for statement in CARRY_OVER:
        op.execute(statement)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_table("kpi_dirty")
