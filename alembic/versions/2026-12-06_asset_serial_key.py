"""An index on asset serials without separators, for the customer search

"DK2158 0000001" or "DK21580000001" typed for the serial "DK-21580000001" found nothing: the search
now also compares the typed text and the serial with '-', ' ', '/' and '.' taken out, upper-cased,
through this expression index (app/models/crm.py, SERIAL_KEY_SQL).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 19:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: a migration keeps the expression it created even if the model's changes later.
SERIAL_KEY_SQL = "upper(replace(replace(replace(replace(serial, '-', ''), ' ', ''), '/', ''), '.', ''))"


def upgrade() -> None:
    op.create_index("ix_asset_serial_key", "asset", [sa.text(SERIAL_KEY_SQL)])


def downgrade() -> None:
    op.drop_index("ix_asset_serial_key", table_name="asset")
