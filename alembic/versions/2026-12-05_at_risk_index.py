"""a partial index on the open tickets marked at risk: SLA at risk is counted in SQL from them

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-05 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0017"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AT_RISK_OPEN = sa.text("at_risk_since IS NOT NULL AND resolved_at IS NULL AND closed_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_ticket_at_risk_open",
        "ticket",
        ["opened_at"],
        sqlite_where=AT_RISK_OPEN,
        postgresql_where=AT_RISK_OPEN,
        # what the counts read besides opened_at: an index-only count where pages are all-visible
        postgresql_include=["status", "category", "channel", "account_id", "site_id", "asset_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_at_risk_open", table_name="ticket")
