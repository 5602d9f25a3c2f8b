"""on-call cover and at-risk marks

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-05 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.platform.db
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "on_call_shift",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("engineer_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_on_call_shift_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["engineer_id"],
            ["engineer.id"],
            name=op.f("fk_on_call_shift_engineer_id_engineer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_on_call_shift")),
    )
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.create_index("ix_on_call_shift_engineer_starts", ["engineer_id", "starts_at"], unique=False)
    for table in ("work_order", "ticket"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("at_risk_since", app.platform.db.UTCDateTime(timezone=True), nullable=True)
            )
            batch_op.add_column(sa.Column("at_risk_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.drop_column("cover")
    for table in ("ticket", "work_order"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("at_risk_reason")
            batch_op.drop_column("at_risk_since")
    with op.batch_alter_table("on_call_shift", schema=None) as batch_op:
        batch_op.drop_index("ix_on_call_shift_engineer_starts")
    op.drop_table("on_call_shift")
