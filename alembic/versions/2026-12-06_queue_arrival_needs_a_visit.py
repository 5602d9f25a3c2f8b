"""The queue's next SLA due time counts arrival only once the ticket has a visit

The ticket page measured arrival only for tickets with a work order ("not applicable" before),
while the queue showed every ticket's arrival due time: "overdue 2 d Arrival" beside a ticket
whose page said arrival did not apply. `first_visit_at` now also records the first work order
created (not only the first scheduled), the queue's expression reads it, and the two partial
indexes on that expression are rebuilt. Tickets that have a work order but no `first_visit_at`
get the work order's creation time.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay the expression of app.models.tickets.sla_next_due (queries repeat it to use the index).
NEXT_DUE = """(
CASE
    WHEN first_response_at IS NULL AND first_response_due_at IS NOT NULL THEN first_response_due_at
    WHEN arrived_at IS NULL AND arrival_due_at IS NOT NULL AND first_visit_at IS NOT NULL THEN arrival_due_at
    ELSE resolution_due_at
END)"""
OLD_NEXT_DUE = """(
CASE
    WHEN first_response_at IS NULL AND first_response_due_at IS NOT NULL THEN first_response_due_at
    WHEN arrived_at IS NULL AND arrival_due_at IS NOT NULL THEN arrival_due_at
    ELSE resolution_due_at
END)"""
LIVE = "status NOT IN ('resolved', 'closed')"


def _indexes(expression: str) -> None:
    op.drop_index("ix_ticket_queue_assignee_due", table_name="ticket")
    op.drop_index("ix_ticket_queue_due", table_name="ticket")
    op.execute(f"CREATE INDEX ix_ticket_queue_due ON ticket ({expression}, id) WHERE {LIVE}")
    op.execute(
        f"CREATE INDEX ix_ticket_queue_assignee_due ON ticket (assignee_id, {expression}, id) WHERE {LIVE}"
    )


def upgrade() -> None:
    op.execute(
        "UPDATE ticket SET first_visit_at = "
        "(SELECT MIN(work_order.created_at) FROM work_order WHERE work_order.ticket_id = ticket.id) "
        "WHERE first_visit_at IS NULL "
        "AND EXISTS (SELECT 1 FROM work_order WHERE work_order.ticket_id = ticket.id)"
    )
    _indexes(NEXT_DUE)


def downgrade() -> None:
    _indexes(OLD_NEXT_DUE)
