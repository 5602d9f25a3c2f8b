"""search the way people type: folded name keys for contacts, trigram indexes for name words and phone tails

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-05 15:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from app.desk.customers.keys import name_key

revision: str = "0003"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def _backfill(table: str) -> None:
    """(Re)compute name_search with the folding rule of the running code, in batches."""
    conn = op.get_bind()
    rows = sa.table(
        table, sa.column("id", sa.Integer), sa.column("name", sa.String), sa.column("name_search")
    )
    stmt = sa.update(rows).where(rows.c.id == sa.bindparam("b_id")).values(name_search=sa.bindparam("b_key"))
    last = 0
    while True:
        chunk = conn.execute(
            sa.select(rows.c.id, rows.c.name).where(rows.c.id > last).order_by(rows.c.id).limit(BATCH)
        ).all()
        if not chunk:
            return
        conn.execute(stmt, [{"b_id": i, "b_key": name_key(n or "")} for i, n in chunk])
        last = chunk[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("name_search", sa.String(length=200), nullable=False, server_default="")
        )
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.alter_column("name_search", server_default=None)
    # Accounts' keys were only lower-cased before; contacts had none.
    _backfill("account")
    _backfill("contact")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_contact_name_trgm", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        )
        batch_op.create_index(
            "ix_contact_name_search_trgm",
            ["name_search"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name_search": "gin_trgm_ops"},
        )
        for col in ("phone_digits", "mobile_digits"):
            batch_op.create_index(
                f"ix_contact_{col}_trgm",
                [col],
                unique=False,
                postgresql_using="gin",
                postgresql_ops={col: "gin_trgm_ops"},
            )


def downgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        for col in ("phone_digits", "mobile_digits"):
            batch_op.drop_index(
                f"ix_contact_{col}_trgm", postgresql_using="gin", postgresql_ops={col: "gin_trgm_ops"}
            )
        batch_op.drop_index(
            "ix_contact_name_search_trgm",
            postgresql_using="gin",
            postgresql_ops={"name_search": "gin_trgm_ops"},
        )
        batch_op.create_index(
            "ix_contact_name_trgm",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )
        batch_op.drop_column("name_search")
