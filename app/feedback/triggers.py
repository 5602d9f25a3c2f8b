"""Session hooks that turn case events into survey work, whatever code path changed the rows
(API, pages, e-mail, other services) — the desk and field layers know nothing of surveys.

- a visit's report filed (work order → done / needs_follow_up)  → a visit survey;
- a ticket resolved without a visit                             → a resolution survey;
- a ticket reopened, or closed without being resolved           → its unanswered surveys cancel;
- a work order cancelled                                        → its survey cancels;
- a recovery ticket resolved or closed                          → the recovery's outcome.

As in `app.planning.triggers`, `after_flush` only collects and `before_commit` does the work in
the same transaction, so a survey exists exactly when the event that caused it does.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.desk.customers import view360
from app.feedback import capture, customer, recovery
from app.models import Ticket, WorkOrder

log = logging.getLogger(__name__)
_KEY = "fieldline_feedback_events"
DONE = ("resolved", "closed")


def _status_change(obj: Any) -> tuple[Any, Any] | None:
    hist = inspect(obj).attrs["status"].history
    if hist.added and hist.deleted:
        return hist.deleted[0], hist.added[0]
    return None


def _collect(session: Session, _ctx: Any) -> None:
    found: list[tuple[str, Any]] = []
    for obj in session.dirty:
        if not isinstance(obj, WorkOrder | Ticket):
            continue
        change = _status_change(obj)
        if change is None:
            continue
        old, new = change
        if isinstance(obj, WorkOrder):
            if new in capture.VISIT_ENDED:
                found.append(("visit_ended", obj))
            elif new == "cancelled":
                found.append(("work_order_cancelled", obj))
            continue
        if old in DONE and new == "open":
            found.append(("reopened", obj))
        elif new == "resolved" or (new == "closed" and old not in DONE):
            found.append(("resolved" if new == "resolved" else "closed_unresolved", obj))
        if new in DONE and old not in DONE:
            found.append(("ticket_done", obj))
    if found:
        session.info.setdefault(_KEY, []).extend(found)


def _handle(session: Session, kind: str, obj: Any) -> None:
    if kind == "visit_ended":
        capture.on_visit_ended(session, obj)
    elif kind == "work_order_cancelled":
        capture.mark_case(session, state="cancelled", work_order_id=obj.id)
    elif kind == "resolved":
        capture.on_ticket_resolved(session, obj)
    elif kind == "closed_unresolved":
        capture.mark_case(session, state="cancelled", ticket_id=obj.id)
    elif kind == "reopened":
        capture.mark_case(session, state="reopened", ticket_id=obj.id)
    elif kind == "ticket_done":
        recovery.on_ticket_done(session, obj)


def _process(session: Session) -> None:
    for _ in range(5):  # handling writes rows, which flush and may be events themselves (bounded)
        if session.new or session.dirty or session.deleted:
            session.flush()
        found = session.info.pop(_KEY, None)
        if not found:
            return
        for kind, obj in found:
            _handle(session, kind, obj)


def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)


_HOOKS = (("after_flush", _collect), ("before_commit", _process), ("after_rollback", _forget))


def install_session_hooks() -> None:
    """Also installs the 360 view's survey signals. Called once at start-up by each composition
    root (create_app, app.worker, the tests); calling it again changes nothing."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
    view360.set_survey_signals(customer.survey_signals)  # answers and health signals in the 360 view
