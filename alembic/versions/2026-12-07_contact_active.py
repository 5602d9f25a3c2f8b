"""contact.active: a contact who left the customer is deactivated, not deleted (docs/customers.md)

`DELETE /api/v1/contacts/{id}` of a contact that tickets or surveys name sets it false: hidden from
the caller search and the contact pickers, still named on its old tickets. Existing contacts stay
active.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_column("active")
