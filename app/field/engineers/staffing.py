"""An engineer's sign-in account and their place in planning move together.

Deactivating an engineer's account, or giving it another role, left the engineer on the board and
in every plan (Engineer.active stayed true): a dispatcher could assign visits to someone who could
no longer open their route. A session hook (installed by app.hooks, as the accounts domain below
field cannot import it) follows such a change of a User:

- the account can no longer work (deactivated, or not an engineer any more) while the engineer
  still has open visits (scheduled or under way): the change is refused, naming the visits, so
  that a dispatcher moves them first and no visit is left with someone who cannot see it;
- otherwise the engineer leaves planning (Engineer.active false), and comes back when the account
  is an active engineer again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from app.models import Engineer, Role, User, WorkOrder, WorkOrderStatus
from app.platform.errors import Conflict

OPEN = (WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value, WorkOrderStatus.on_site.value)
NAMED = 5  # visits named in the refusal; the count says how many more


def can_work(user: User) -> bool:
    return bool(user.is_active) and user.role == Role.engineer.value


def _changed(user: User) -> bool:
    state = inspect(user)
    return any(state.attrs[name].history.has_changes() for name in ("is_active", "role"))


def _follow(session: Session, flush_context: Any, instances: Any) -> None:
    for user in [o for o in session.dirty if isinstance(o, User) and _changed(o)]:
        engineer = session.scalar(select(Engineer).where(Engineer.user_id == user.id))
        if engineer is None:
            continue
        working = can_work(user)
        if not working and engineer.active:
            _refuse_with_open_visits(session, engineer)
        engineer.active = working


def _refuse_with_open_visits(session: Session, engineer: Engineer) -> None:
    with session.no_autoflush:
        visits = list(
            session.scalars(
                select(WorkOrder.number)
                .where(WorkOrder.engineer_id == engineer.id, WorkOrder.status.in_(OPEN))
                .order_by(WorkOrder.planned_start_at, WorkOrder.id)
            )
        )
    if not visits:
        return
    named = ", ".join(str(n) for n in visits[:NAMED]) + (
        f" and {len(visits) - NAMED} more" if len(visits) > NAMED else ""
    )
    raise Conflict(
        f"{engineer.name} still has {len(visits)} open visit{'s' if len(visits) != 1 else ''} ({named}). "
        "Nothing was changed: a dispatcher moves them to someone else on the board first, then the "
        "account can stop signing in or change its role.",
        errors=[{"field": "is_active", "message": "the engineer still has open visits"}],
    )


def install_staffing_hooks() -> None:
    """Called once at start-up by each composition root (app.hooks); again changes nothing."""
    if not event.contains(Session, "before_flush", _follow):
        event.listen(Session, "before_flush", _follow)
