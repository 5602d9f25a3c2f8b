"""The domains' session hooks, installed once per process by every composition root.

Lower layers cannot import the domains that react to their changes (the desk never imports field,
planning or feedback), so each reacting domain offers an idempotent `install_…` function and this
module calls them all. `create_app`, the Celery worker, the CLI commands that change rows, the
benches that write directly and the test suite call `install_domain_hooks()`; nothing registers a
hook as a side effect of an import.
"""

from __future__ import annotations

from app.accounts.desk_rights import install_hand_back_hook
from app.feedback.triggers import install_session_hooks as install_feedback_hooks
from app.field.engineers.staffing import install_staffing_hooks
from app.field.workorders.closing import install_ticket_hooks
from app.insights.changes import install_session_hooks as install_kpi_hooks
from app.planning.triggers import install_session_hooks as install_planning_hooks


def install_domain_hooks() -> None:
    # First: the tickets it hands back are changed before the hooks below look at the flush.
    install_hand_back_hook()  # a user who stops working the desk, by any writer, hands back their tickets
    install_planning_hooks()  # re-plans and reservations follow whatever the session changes
    install_ticket_hooks()  # resolving or closing a ticket ends its visits
    install_feedback_hooks()  # surveys follow visits and resolutions, recoveries their tickets
    install_kpi_hooks()  # what each change can move in the KPI aggregates (kpi_dirty)
    install_staffing_hooks()  # an engineer's account and their place in planning move together
