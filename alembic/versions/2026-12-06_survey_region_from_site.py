"""A survey without a visit takes its ticket's site's region before the account's

Surveys of desk-resolved tickets copied the account's region only: a ticket at a site in a region,
for an account without one, had its answers in "(none)" and out of every region filter, while the
ticket KPIs counted it in the site's region. Such surveys and their answers take the site's region;
if any changed, the aggregates are emptied and the next periodic job rebuilds them.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SITE_REGION = (
    "SELECT site.region_id FROM ticket JOIN site ON site.id = ticket.site_id"
    " WHERE ticket.id = {table}.ticket_id AND site.region_id IS NOT NULL"
)


def upgrade() -> None:
    bind = op.get_bind()
    changed = 0
    for table in ("survey", "survey_answer"):
        region = SITE_REGION.format(table=table)
        result = bind.execute(
            sa.text(
                f"UPDATE {table} SET region_id = ({region}) WHERE work_order_id IS NULL"
                f" AND EXISTS ({region}) AND (region_id IS NULL OR region_id <> ({region}))"
            )
        )
        changed += result.rowcount or 0
    if changed:
        bind.execute(sa.text("DELETE FROM kpi_day"))
        bind.execute(sa.text("DELETE FROM kpi_refresh"))  # no mark: the next job builds everything


def downgrade() -> None:
    # The account's region is not brought back: the site's is the right one for these answers.
    pass
