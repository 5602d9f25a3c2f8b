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

Taking the engineer out of planning directly (the profile's "In planning: No", `PATCH
/api/v1/engineers/{id}` with `active: false`, any other writer) is refused the same way while they
have open visits: the board shows active engineers only, so their visits were in no row and not
under Unassigned, yet still scheduled with them and on their phone's route.
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


def _leaves_planning(engineer: Engineer) -> bool:
    """`active` set to false, from true or from a value never loaded (then checked all the same)."""
    history = inspect(engineer).attrs["active"].history
    added, deleted = list(history.added), list(history.deleted)
    return bool(added) and not added[0] and not (deleted and not deleted[0])


def _follow(session: Session, flush_context: Any, instances: Any) -> None:
    # Taken before the accounts below change any engineer: those are checked there.
    leaving = [o for o in session.dirty if isinstance(o, Engineer) and _leaves_planning(o)]
    for user in [o for o in session.dirty if isinstance(o, User) and _changed(o)]:
        engineer = session.scalar(select(Engineer).where(Engineer.user_id == user.id))
        if engineer is None:
            continue
        working = can_work(user)
        if not working and engineer.active:
            _refuse_with_open_visits(
                session,
                engineer,
                then="the account can stop signing in or change its role",
                field="is_active",
                short="the engineer still has open visits",
            )
        engineer.active = working
    for engineer in leaving:
        _refuse_with_open_visits(
            session, engineer, then=f"{engineer.name} can leave planning", field="active"
        )


def _refuse_with_open_visits(
    session: Session, engineer: Engineer, *, then: str, field: str, short: str = ""
) -> None:
    """409 naming the engineer's open visits, if any. Without a `short` message the field's message
    names them too: the profile page shows the fields' messages, not the detail (and says "Nothing
    was saved" in its own words)."""
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
    has = f"{engineer.name} still has {len(visits)} open visit{'s' if len(visits) != 1 else ''} ({named})"
    move = f"a dispatcher moves them to someone else on the board first, then {then}"
    raise Conflict(
        f"{has}. Nothing was changed: {move}.",
        errors=[{"field": field, "message": short or f"{has}; {move}"}],
    )


def install_staffing_hooks() -> None:
    """Called once at start-up by each composition root (app.hooks); again changes nothing."""
    if not event.contains(Session, "before_flush", _follow):
        event.listen(Session, "before_flush", _follow)
