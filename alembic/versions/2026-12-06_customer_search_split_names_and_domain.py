"""Customer search: company + person typed together, and an e-mail domain

"Müller GmbH" ("GmbH" in the account's name, "Müller" a contact's) and "Ziegler Müller" found
nothing: `contact.account_and_name_search` holds the account's and the contact's name keys (a tab
between), trigram-indexed, so every word is looked up in both names with one index probe. It is
filled here from the stored keys, in batches of contact ids; afterwards the customers' flush hook
keeps it (app/desk/customers/keys.py).

"ziegler-maschinenbau.de" (or "@ziegler-maschinenbau.de") found nothing: an expression index on the
domain of contacts' e-mail addresses (app/models/crm.py, `email_domain`) serves an exact domain
lookup; the database derives it from the stored address, so it needs no backfill.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 22:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000
# Frozen here: a migration keeps the expression it created even if the model's changes later.
EMAIL_DOMAIN_SQL = {
    "postgresql": "substr(email, strpos(email, '@') + 1)",
    "sqlite": "substr(email, instr(email, '@') + 1)",
}


def _backfill() -> None:
    """account.name_search, a tab, contact.name_search (keys.account_and_name_key), by id ranges."""
    conn = op.get_bind()
    account = sa.table("account", sa.column("id", sa.Integer), sa.column("name_search", sa.String))
    contact = sa.table(
        "contact",
        sa.column("id", sa.Integer),
        sa.column("account_id", sa.Integer),
        sa.column("name_search", sa.String),
        sa.column("account_and_name_search", sa.String),
    )
    account_key = (
        sa.select(account.c.name_search).where(account.c.id == contact.c.account_id).scalar_subquery()
    )
    top = conn.scalar(sa.select(sa.func.max(contact.c.id))) or 0
    for low in range(0, top, BATCH):
        conn.execute(
            sa.update(contact)
            .where(contact.c.id > low, contact.c.id <= low + BATCH)
            .values(account_and_name_search=sa.func.coalesce(account_key, "") + "\t" + contact.c.name_search)
        )


def upgrade() -> None:
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_and_name_search", sa.String(length=401), nullable=True))
    _backfill()
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_account_and_name_search_trgm",
            ["account_and_name_search"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"account_and_name_search": "gin_trgm_ops"},
        )
    sql = EMAIL_DOMAIN_SQL[op.get_bind().dialect.name]
    op.create_index("ix_contact_email_domain", "contact", [sa.text(sql)])


def downgrade() -> None:
    op.drop_index("ix_contact_email_domain", table_name="contact")
    with op.batch_alter_table("contact", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_contact_account_and_name_search_trgm",
            postgresql_using="gin",
            postgresql_ops={"account_and_name_search": "gin_trgm_ops"},
        )
        batch_op.drop_column("account_and_name_search")
