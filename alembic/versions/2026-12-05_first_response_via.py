"""first response: how it was made and the channel the customer was first reached on

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("first_response_via", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("first_contact_channel", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("first_contact_channel")
        batch.drop_column("first_response_via")
