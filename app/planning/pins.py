"""Visits pinned by hand, as the board shows them, and the dispatcher's "Unpin".

A visit is pinned in two ways (docs/planning.md): to its engineer (`PlanStop.locked` — the
board's *Pin* or an assignment through `/assign` — or scheduled by a person after the plan was
published: `inputs.locked`), and in time (scheduled by hand, engineer and start:
`inputs.hand_pins`; automatic re-plans keep both). The board marks both, saying who set a time
by hand and when; *Unpin* ends both at once, so the next plan chooses engineer and time again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.workorders.status import add_event
from app.models import PlanDay, PlanStop, User, WorkOrder
from app.planning import inputs as plan_inputs
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Unprocessable


class Visit(NamedTuple):
    """What a pin mark needs of a visit: the board reads these columns, not whole work orders."""

    id: int
    status: str
    engineer_id: int | None
    planned_start_at: datetime | None


def _local(value: datetime, tz: ZoneInfo, fmt: str) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz).strftime(fmt)


def notes(
    session: Session,
    visits: Sequence[Visit | WorkOrder],
    run_id: int | None,
    engineer_names: dict[int, str],
    tz: ZoneInfo,
) -> dict[int, str]:
    """Why each pinned visit among `visits` is pinned, in the board's words: {work order id:
    "scheduled by hand at 13:30 by Dana Dispatcher (Mon 07 Dec 12:04); automatic re-plans keep
    it there"}. Visits the next plan may move freely are not in it. Three queries."""
    # Started and finished visits are frozen in every plan (their stops are `locked` too): no pin
    # to show or release there.
    visits = [w for w in visits if w.status in plan_inputs.PLANNABLE]
    if not visits:
        return {}
    timed = plan_inputs.hand_pins(session, visits)
    engineer_only = plan_inputs.locked(session, run_id, [w.id for w in visits if w.engineer_id]) - set(timed)
    people: dict[int, str] = {
        uid: name
        for uid, name in session.execute(
            select(User.id, User.name).where(User.id.in_({p.actor_id for p in timed.values()} or {-1}))
        ).tuples()
    }
    out: dict[int, str] = {}
    for wo_id, pin in timed.items():
        who = people.get(pin.actor_id, f"user {pin.actor_id}")
        out[wo_id] = (
            f"scheduled by hand at {_local(pin.start, tz, '%H:%M')} by {who} "
            f"({_local(pin.at, tz, '%a %d %b %H:%M')}); automatic re-plans keep it there"
        )
    for w in visits:
        if w.id in engineer_only and w.engineer_id is not None:
            name = engineer_names.get(w.engineer_id, f"engineer {w.engineer_id}")
            out[w.id] = f"pinned to {name}: plans keep it with them and choose its time"
    return out


def is_pinned(session: Session, work_order: WorkOrder) -> bool:
    """Whether a later plan would keep this visit's engineer (and, scheduled by hand, its start)."""
    if work_order.engineer_id is None or work_order.status not in plan_inputs.PLANNABLE:
        return False
    if plan_inputs.hand_pins(session, [work_order]):
        return True
    # `locked` answers every stop the run pinned, whatever the candidates: ask for this visit
    return bool(_stops(session, work_order, locked_only=True)) or work_order.id in plan_inputs.locked(
        session, _current_run(session, work_order), [work_order.id]
    )


def unpin(session: Session, *, work_order: WorkOrder, actor: User | None) -> None:
    """Let the planner choose again: release the engineer pin of the published stop and end a
    time set by hand (an `unpinned` event after the last `scheduled` one, which `inputs` reads).
    The visit stays where it is until a plan moves it. Bumps the version, so a form or an
    If-Match read before this conflicts, and a run that loaded the visit pinned cannot publish
    (its version check fails and a fresh run is queued)."""
    if not is_pinned(session, work_order):
        raise Unprocessable(
            f"Work order {work_order.number} is not pinned: plans already choose its engineer and time.",
            errors=[{"field": "work_order_id", "message": "not pinned"}],
        )
    for stop in _stops(session, work_order, locked_only=True):
        stop.locked = False
    now = utcnow()
    add_event(
        session,
        work_order,
        plan_inputs.UNPINNED,
        actor=actor,
        at=now,
        data={"engineer_id": work_order.engineer_id, "planned_start_at": work_order.planned_start_at},
    )
    audit.record(session, actor, "work_order", work_order.id, "unpin", {})
    work_order.updated_at = now  # bumps the version


def _stops(session: Session, work_order: WorkOrder, *, locked_only: bool) -> list[PlanStop]:
    """The visit's stops in the published plans (of any day) with its engineer."""
    query = (
        select(PlanStop)
        .join(PlanDay, PlanDay.current_run_id == PlanStop.plan_run_id)
        .where(PlanStop.work_order_id == work_order.id, PlanStop.engineer_id == work_order.engineer_id)
    )
    if locked_only:
        query = query.where(PlanStop.locked)
    return list(session.scalars(query))


def _current_run(session: Session, work_order: WorkOrder) -> int | None:
    """The published run holding the visit (its planned day's), if any."""
    found = _stops(session, work_order, locked_only=False)
    return found[0].plan_run_id if found else None
