"""desk teams, the ticket queue's partial indexes on the next SLA due time, proposed plan runs

Revision ID: 0011
Revises: 0006 (given as 0001: the merger re-chains; 0006 is this branch's head)
Create Date: 2026-12-05 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay the expression of app.models.tickets.sla_next_due (queries repeat it to use the index).
NEXT_DUE = """(
CASE
    WHEN first_response_at IS NULL AND first_response_due_at IS NOT NULL THEN first_response_due_at
    WHEN arrived_at IS NULL AND arrival_due_at IS NOT NULL THEN arrival_due_at
    ELSE resolution_due_at
END)"""
LIVE = "status NOT IN ('resolved', 'closed')"


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "team_member",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("team_id", "user_id"),
    )
    op.create_index("ix_team_member_user_id", "team_member", ["user_id"], unique=False)
    op.execute(f"CREATE INDEX ix_ticket_queue_due ON ticket ({NEXT_DUE}, id) WHERE {LIVE}")
    op.execute(
        f"CREATE INDEX ix_ticket_queue_assignee_due ON ticket (assignee_id, {NEXT_DUE}, id) WHERE {LIVE}"
    )

    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("propose", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("proposal", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plan_run", schema=None) as batch_op:
        batch_op.drop_column("proposal")
        batch_op.drop_column("propose")
    op.drop_index("ix_ticket_queue_assignee_due", table_name="ticket")
    op.drop_index("ix_ticket_queue_due", table_name="ticket")
    op.drop_index("ix_team_member_user_id", table_name="team_member")
    op.drop_table("team_member")
    op.drop_table("team")
