"""unmatched_email: mail from an unknown sender is held for a person (docs/tickets.md, step 5)

One row per held message (unique Message-ID): sender, subject, text, what its `email_in` event will
carry, the suggested customer (the one account whose contacts share the sender's mail domain), and
its fate: held | attached (the contact and ticket made from it) | discarded (kept for audit).
Such mail used to be refused with 422 and not kept, so there is nothing to back-fill.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import app.platform.db
from alembic import op

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmatched_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("from_addr", sa.String(length=254), nullable=False),
        sa.Column("from_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("suggested_account_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", app.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["suggested_account_id"],
            ["account.id"],
            name=op.f("fk_unmatched_email_suggested_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_unmatched_email_ticket_id_ticket"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contact.id"],
            name=op.f("fk_unmatched_email_contact_id_contact"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["user.id"], name=op.f("fk_unmatched_email_decided_by_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmatched_email")),
        sa.UniqueConstraint("message_id", name=op.f("uq_unmatched_email_message_id")),
    )
    with op.batch_alter_table("unmatched_email", schema=None) as batch_op:
        batch_op.create_index("ix_unmatched_email_status_received", ["status", "received_at"], unique=False)
        batch_op.create_index(
            "ix_unmatched_email_sender_received", ["from_addr", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("unmatched_email", schema=None) as batch_op:
        batch_op.drop_index("ix_unmatched_email_sender_received")
        batch_op.drop_index("ix_unmatched_email_status_received")
    op.drop_table("unmatched_email")
