"""knowledge base articles, versions, ticket feedback, index version

Revision ID: 0010
Revises: 0001 (chained after 0007 on this branch so `upgrade head` has one head; the merger re-chains it)
Create Date: 2026-12-05 16:12:04.103943
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa

import app.platform.db
from alembic import op

revision: str = "0010"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_change",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_kb_change")),
    )
    with op.batch_alter_table("kb_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_change_article_id"), ["article_id"], unique=False)

    op.create_table(
        "kb_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("database_token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_index_state")),
    )
    # The one counter row every process compares its in-memory index with.
    op.bulk_insert(
        sa.table("kb_index_state", sa.column("id"), sa.column("version"), sa.column("database_token")),
        [{"id": 1, "version": 0, "database_token": uuid.uuid4().hex}],
    )
    op.create_table(
        "kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("symptom", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("resolution_steps", sa.JSON(), nullable=False),
        sa.Column("product_models", sa.JSON(), nullable=False),
        sa.Column("fault_codes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("visibility", sa.String(length=10), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("solved_count", sa.Integer(), nullable=False),
        sa.Column("not_helpful_count", sa.Integer(), nullable=False),
        sa.Column("created_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"], name=op.f("fk_kb_article_author_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article")),
        sa.UniqueConstraint("external_id", name=op.f("uq_kb_article_external_id")),
    )
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.create_index("ix_kb_article_status", ["status"], unique=False)

    op.create_table(
        "kb_article_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("changed", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_kb_article_version_actor_id_user")),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_article.id"],
            name=op.f("fk_kb_article_version_article_id_kb_article"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article_version")),
        sa.UniqueConstraint("article_id", "number", name="uq_kb_article_version_number"),
    )
    with op.batch_alter_table("kb_article_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_article_version_article_id"), ["article_id"], unique=False)

    op.create_table(
        "kb_ticket_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=12), nullable=False),
        sa.Column("first_contact", sa.Boolean(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", app.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_kb_ticket_feedback_actor_id_user")),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_article.id"],
            name=op.f("fk_kb_ticket_feedback_article_id_kb_article"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name=op.f("fk_kb_ticket_feedback_ticket_id_ticket"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_ticket_feedback")),
        sa.UniqueConstraint("ticket_id", "article_id", "verdict", name="uq_kb_ticket_feedback"),
    )
    with op.batch_alter_table("kb_ticket_feedback", schema=None) as batch_op:
        batch_op.create_index("ix_kb_ticket_feedback_article", ["article_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_kb_ticket_feedback_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kb_ticket_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_ticket_feedback_ticket_id"))
        batch_op.drop_index("ix_kb_ticket_feedback_article")

    op.drop_table("kb_ticket_feedback")
    with op.batch_alter_table("kb_article_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_article_version_article_id"))

    op.drop_table("kb_article_version")
    with op.batch_alter_table("kb_article", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_article_status")

    op.drop_table("kb_article")
    op.drop_table("kb_index_state")
    with op.batch_alter_table("kb_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_change_article_id"))

    op.drop_table("kb_change")
