"""Travel share counts only engineer-days a published plan covered: rebuild its aggregates

Before, a day without a plan counted as a day without driving (0 travel minutes), so the figure
fell wherever dispatchers planned by hand. The stored daily rows of the metric are deleted and
every aggregated day is marked for the engineer-day rebuild, which the next KPI refresh does.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 13:20:00
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM kpi_day WHERE metric = 'travel_share'"))
    built_from = bind.execute(sa.text("SELECT built_from FROM kpi_refresh WHERE id = 1")).scalar()
    if built_from is None:  # never built: the first refresh builds everything
        return
    if isinstance(built_from, str):  # SQLite hands a Date back as text here
        built_from = date.fromisoformat(built_from)
    last = datetime.now(UTC).date() + timedelta(days=1)
    days = [built_from + timedelta(days=i) for i in range((last - built_from).days + 1)]
    if days:
        bind.execute(
            sa.text("INSERT INTO kpi_dirty (scope, day) VALUES ('shifts', :day)"),
            [{"day": d} for d in days],
        )


def downgrade() -> None:
    # The rows rebuilt under the new rule stay; the older rule's figures come back on the days
    # that are rebuilt later.
    pass
