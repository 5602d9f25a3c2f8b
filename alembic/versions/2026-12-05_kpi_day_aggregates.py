"""per-day KPI aggregates and their refresh mark

Revision ID: 0009
Revises: 0001 (chained on this branch's head 0007 so that the branch has one head; the merger
re-chains it)
Create Date: 2026-12-05 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.platform.db
from alembic import op

revision: str = "0009"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kpi_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.JSON(), nullable=True),
        sa.Column("business_minutes", sa.JSON(), nullable=True),
        sa.Column("shift_min", sa.Double(), nullable=True),
        sa.Column("part_min", sa.Double(), nullable=True),
        sa.Column("snapshot", sa.JSON(), nullable=True),
        sa.Column("ratings", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_day")),
        sa.UniqueConstraint("metric", "key", "value", "day", name="uq_kpi_day_slice"),
    )
    op.create_table(
        "kpi_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("built_from", sa.Date(), nullable=False),
        sa.Column("refreshed_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("renewal_day", sa.Date(), nullable=True),
        sa.Column("renewal_scores", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_refresh")),
    )


def downgrade() -> None:
    op.drop_table("kpi_refresh")
    op.drop_table("kpi_day")
