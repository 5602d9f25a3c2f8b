"""reply_delivery: public replies and resolutions are mailed to the customer (docs/tickets.md, "Outbound")

One row per `reply` event: its recipient, delivery status (pending | sending | sent | failed |
skipped), attempts and the last error, claimed and recorded like a visit notice. Replies written
before this revision have no row: they were never mailed, and stay so.

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.platform.db
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reply_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticket_event.id"],
            name=op.f("fk_reply_delivery_event_id_ticket_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_reply_delivery_ticket_id_ticket"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_delivery")),
        sa.UniqueConstraint("event_id", name=op.f("uq_reply_delivery_event_id")),
    )
    with op.batch_alter_table("reply_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_reply_delivery_due", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_reply_delivery_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reply_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_delivery_ticket_id"))
        batch_op.drop_index("ix_reply_delivery_due")
    op.drop_table("reply_delivery")
