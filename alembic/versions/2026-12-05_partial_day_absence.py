"""absence from a time of day (partial-day sickness); whole-day absences keep a null from_time;
a version on teams (the team page's conflict check)

Revision ID: 0016
Revises: 0010
Create Date: 2026-12-05 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0016"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_time", sa.Time(), nullable=True))
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("absence", schema=None) as batch_op:
        batch_op.drop_column("from_time")
