"""kpi_day.left_out: per day and slice, the duration items not counted because their record is
inconsistent (an event before the ticket was opened). Before, one such ticket raised in the
library and the whole KPI refresh failed; now it is left out of n and counted here, and the
dashboard says "N tickets left out: resolved before opened" beside the figure.

The existing rows keep 0, which is right: no refresh could write a day holding such a ticket
(it failed instead), and the days it left unbuilt are still marked in kpi_dirty (that refresh
rolled back), so the next refresh builds them with their counts.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("kpi_day", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_out", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("kpi_day", schema=None) as batch_op:
        batch_op.drop_column("left_out")
