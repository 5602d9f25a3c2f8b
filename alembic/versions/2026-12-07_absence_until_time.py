"""absence until a time of day (a late start: at the dentist until 10:30) and, with from_time, a
gap inside the day (training 13:00–15:00); whole-day and "from a time on" absences keep a null
until_time. A gap must end after it starts (a check, as on on-call cover).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNTIL_AFTER_FROM = "from_time IS NULL OR until_time IS NULL OR until_time > from_time"


def upgrade() -> None:
    # batch mode: SQLite adds a check constraint only by copying the table
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("until_time", sa.Time(), nullable=True))
        batch_op.create_check_constraint(op.f("ck_absence_until_after_from"), UNTIL_AFTER_FROM)


def downgrade() -> None:
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_absence_until_after_from"), type_="check")
        batch_op.drop_column("until_time")
