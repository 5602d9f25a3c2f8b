"""Re-plans on events, and reservations that follow a visit's fate.

Whatever code path changes the rows (API, pages, imports, other services), a session hook sees:
- a new (or escalated) P1/P2 work order            → re-plan its region's day ("emergency"): the
                                                      appointment's, the what-if's (`plan_on`), else today;
- an absence recorded for a planned day            → re-plan that day ("sickness"), each recording
                                                      its own event (`absence_ref`); its from or
                                                      until time changed: the same;
- an absence removed (a mistake, or the engineer   → re-plan that day ("absence_removed"): the
  is back) for a planned day                          engineer may take visits again;
- on-call cover added                              → re-plan the planned days it covers ("on_call"),
                                                      each recording its own event (`cover_ref`);
- on-call cover removed                            → re-plan the planned days it covered, from today
                                                      on ("on_call_removed"); cover already over: none;
- a visit scheduled or moved by hand               → tell the customer as a plan's move would
  (`workorders.schedule`)                             (`notify.on_scheduled`), and re-plan its day
                                                      and the day it left ("scheduled"): the
                                                      published plan still has it at the engine's
                                                      time, its engineer's other stops maybe over it;
- a work order cancelled                           → release its parts, re-plan ("cancellation"),
                                                      tell the customer if the visit was announced;
- a visit finished (done / needs_follow_up)        → its held parts are consumed (the report has
                                                      already consumed what it used, released the rest);
- a visit checked in on another day than planned   → re-plan the day it was planned for (its plan
  (tomorrow's visit done today)                       must not keep a visit being done now) and the
                                                      day it is worked on ("worked_other_day");
- a visit checked in on its day before a stop       → re-plan today ("out_of_order"): the skipped
  planned earlier for the same engineer               stops' ETAs (and their customers' times) are
                                                      wrong from now, not only once they run late;
- a check-in undone (a wrong tap) whose check-in    → re-plan those days again ("check_in_undone"):
  re-planned a day (the two above)                    the plan froze a visit nobody is at.
- a planned visit's reservation cut (a stock count → re-plan its planned day ("stock_cut"): the
  found fewer parts; a report used them elsewhere)    plan sends the engineer for parts no longer
                                                      held; the new one sources them again or says why not.
Late visits are found by a periodic job (`check_late`, beat every minute).

The hooks are installed by `install_session_hooks()` at start-up (not on import). The hook only
collects during flushes (a removal is a deleted row: `session.deleted`); the work happens in
`before_commit`, inside the same transaction as the change, so a re-plan is requested exactly when
the event really happened.
A re-plan is requested only for a region and day that has a published plan (there is nothing
to re-plan otherwise), and duplicates collapse: the same event twice is one run (a unique
request key), and a re-plan still queued absorbs later events (it loads the newest state).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from app.field.inventory import reservations, stock
from app.field.workorders.service import SCHEDULED_BY_HAND
from app.models import (
    Absence,
    Engineer,
    OnCallShift,
    PlanDay,
    PlanRun,
    PlanRunStatus,
    Region,
    StockReservation,
    User,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)
from app.planning import inputs as plan_inputs
from app.planning import keys as plan_keys
from app.planning import notify
from app.planning import runs as plan_runs
from app.planning import undo as plan_undo
from app.platform.config import get_settings
from app.platform.db import utcnow

log = logging.getLogger(__name__)
URGENT = ("P1", "P2")
_KEY = "fieldline_plan_events"
_REF = "fieldline_plan_event_ref"  # on an Absence's / OnCallShift's instance state: absence_ref, cover_ref
_SCHEDULED_FROM = "fieldline_scheduled_from"  # on a WorkOrder's instance state: its ETA before `schedule`
_SCHEDULED_WAS = "fieldline_scheduled_was"  # on a WorkOrder's instance state: its start before `schedule`
_DAY = "fieldline_plan_day"  # on a WorkOrder's instance state: plan_on
_UNDONE = "fieldline_check_in_undone"  # on a WorkOrder's instance state: the check-in taken back
# The events of a check-in that re-plan a day; an undone check-in takes back (or re-plans) the
# days they did.
CHECK_IN_TRIGGERS = plan_undo.UNDOABLE


def request_replan(
    session: Session,
    *,
    region_id: int,
    day: date,
    trigger: str,
    ref: str,
    requested_by: User | None = None,
    skip_if_running: bool = False,
) -> PlanRun | None:
    """A queued re-plan of the region's day, unless there is no plan to re-plan, this very
    event already asked for one, or one is still queued (it will see this change too)."""
    pd = session.scalar(select(PlanDay).where(PlanDay.region_id == region_id, PlanDay.day == day))
    if pd is None or pd.current_run_id is None:
        return None
    key = request_key(trigger, region_id, day, ref)
    same = session.scalar(select(PlanRun).where(PlanRun.request_key == key))
    if same is not None:
        return same
    waiting = (
        (PlanRunStatus.queued.value, PlanRunStatus.running.value)
        if skip_if_running
        else (PlanRunStatus.queued.value,)
    )
    pending = session.scalar(
        select(PlanRun).where(
            PlanRun.region_id == region_id,
            PlanRun.day == day,
            PlanRun.kind == "replan",
            PlanRun.status.in_(waiting),
        )
    )
    if pending is not None:
        return pending
    try:
        with session.begin_nested():
            return plan_runs.create_run(
                session,
                region_id=region_id,
                day=day,
                kind="replan",
                trigger=trigger,
                trigger_ref=ref,
                request_key=key,
                requested_by=requested_by,
                propose=get_settings().replan_propose,
            )
    except IntegrityError:  # the same event, requested concurrently: that run serves both
        return session.scalar(select(PlanRun).where(PlanRun.request_key == key))


def request_key(trigger: str, region_id: int, day: date, ref: str) -> str:
    return f"{trigger}:{region_id}:{day.isoformat()}:{ref}"[:200]


def absence_ref(absence: Absence) -> str:
    """The ref of an absence's events (`sickness` when recorded, `absence_removed` when removed):
    each recorded absence, and each removal, is its own event.

    Keyed per engineer and day, an absence removed and recorded again (a dispatcher correcting a
    mistake) found the first one's run and was not planned again. The row id alone is not enough:
    SQLite hands a deleted row's id to the next insert. So a recording also gets a token of its
    own, kept on the row's instance state: the hook and the what-if that answers the event
    (`whatif.publish_absence`, in the same session) read the same ref, so that is still one run.
    A removal in that session reads the same ref under its own trigger name (another key); one
    in a later session (the usual case: a page or the API loads the row) gets a fresh token."""
    return _row_ref(absence)


def cover_ref(cover: OnCallShift) -> str:
    """The ref of on-call cover's events (`on_call`, `on_call_removed`), as `absence_ref`: cover
    removed and added again for the same hours (SQLite: with the same id) is asked for again."""
    return _row_ref(cover)


def _row_ref(row: Absence | OnCallShift) -> str:
    info = instance_state(row).info
    if _REF not in info:
        info[_REF] = f"{row.engineer_id}.{row.id}.{secrets.token_hex(4)}"
    ref: str = info[_REF]
    return ref


def plan_on(work_order: WorkOrder, day: date) -> None:
    """The day a new urgent visit without an appointment is planned for, when it is not today: a
    what-if emergency published for Monday from Sunday's board. Its `emergency` event then asks
    for that day (found answered by the what-if's run, whose request key names that day) instead
    of re-planning today with a visit meant for Monday."""
    inspect(work_order).info[_DAY] = day


def _today(session: Session, region_id: int) -> tuple[str, date]:
    region = session.get(Region, region_id)
    tz = region.timezone if region else get_settings().time_zone
    return tz, plan_keys.local_day(utcnow(), tz)


# ------------------------------------------------------------------------------------ the hook
def _changed_to(obj: Any, attr: str) -> Any:
    hist = inspect(obj).attrs[attr].history
    return hist.added[0] if hist.added and hist.deleted else None


def _absent_time_changed(absence: Absence) -> bool:
    """From or until moved (13:00 → 12:00, a gap made a late start): the day's input changed."""
    state = inspect(absence)
    return any(state.attrs[name].history.has_changes() for name in ("from_time", "until_time"))


def _collect(session: Session, _ctx: Any) -> None:
    found: list[tuple[str, Any]] = []
    for obj in session.new:
        if isinstance(obj, WorkOrder) and obj.priority in URGENT and obj.status in plan_inputs.PLANNABLE:
            found.append(("emergency", obj))
        elif isinstance(obj, Absence):
            found.append(("sickness", obj))
        elif isinstance(obj, OnCallShift):
            found.append(("on_call", obj))
    for obj in session.deleted:  # removed rows: their loaded values are still there
        if isinstance(obj, Absence):
            found.append(("absence_removed", obj))
        elif isinstance(obj, OnCallShift):
            found.append(("on_call_removed", obj))
    for obj in (*session.new, *session.dirty):
        mark = instance_state(obj).info.pop(SCHEDULED_BY_HAND, None) if isinstance(obj, WorkOrder) else None
        if mark is not None:  # kept past this flush for `_handle` (before_commit)
            instance_state(obj).info[_SCHEDULED_FROM] = mark[0]
            if mark[2]:  # a person's: the re-plan keeps it where they put it (`inputs.hand_timed`)
                instance_state(obj).info[_SCHEDULED_WAS] = mark[1]
            else:
                instance_state(obj).info.pop(_SCHEDULED_WAS, None)
            found.append(("scheduled", obj))
    for obj in session.dirty:
        if isinstance(obj, StockReservation) and instance_state(obj).info.pop(stock.CUT_MARK, None):
            found.append(("stock_cut", obj))
            continue
        if isinstance(obj, Absence) and _absent_time_changed(obj):
            instance_state(obj).info.pop(_REF, None)  # another part of the day: a new event
            found.append(("sickness", obj))
        if not isinstance(obj, WorkOrder):
            continue
        status = _changed_to(obj, "status")
        if status == WorkOrderStatus.cancelled:
            found.append(("cancellation", obj))
        elif status in (WorkOrderStatus.done, WorkOrderStatus.needs_follow_up):
            found.append(("finished", obj))
        elif status == WorkOrderStatus.on_site:
            found.append(("checked_in", obj))
        elif _check_in_withdrawn(obj):
            found.append(("check_in_undone", obj))
        elif _changed_to(obj, "priority") in URGENT and obj.status in plan_inputs.PLANNABLE:
            found.append(("emergency", obj))
    if found:
        session.info.setdefault(_KEY, []).extend(found)


def _check_in_withdrawn(work_order: WorkOrder) -> bool:
    """The check-in was undone in this flush (`visits.undo_check_in`); its instant is kept for
    `_check_in_undone`, which runs after the attribute's history is gone."""
    hist = inspect(work_order).attrs["checked_in_at"].history
    if not (hist.deleted and hist.deleted[0] is not None and hist.added and hist.added[0] is None):
        return False
    instance_state(work_order).info[_UNDONE] = hist.deleted[0]
    return True


def _process(session: Session) -> None:
    # before_commit runs before the commit's own flush: flush now so its changes are seen too.
    for _ in range(5):  # handling may change rows that are events themselves (bounded)
        if session.new or session.dirty or session.deleted:
            session.flush()
        found = session.info.pop(_KEY, None)
        if not found:
            return
        try:
            for kind, obj in found:
                _handle(session, kind, obj)
        except Exception:
            # Reservations are part of the change: do not commit it without them.
            log.exception("plan trigger %s failed", found)
            raise


def _forget(session: Session) -> None:
    session.info.pop(_KEY, None)


_HOOKS = (("after_flush", _collect), ("before_commit", _process), ("after_rollback", _forget))


def install_session_hooks() -> None:
    """Watch every Session for the events above. Called once at start-up by each composition root
    (`create_app`, the Celery worker module `app.worker`, the CLI commands that change plans, the
    test suite); calling it again changes nothing."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


def _handle(session: Session, kind: str, obj: Any) -> None:
    if kind == "finished":
        reservations.consume_for_work_order(session, work_order_id=obj.id)
    elif kind == "checked_in":
        _worked_other_day(session, obj)
        _checked_in_out_of_order(session, obj)
    elif kind == "check_in_undone":
        _check_in_undone(session, obj)
    elif kind == "stock_cut":
        _stock_cut(session, obj)
    elif kind == "scheduled":
        info = instance_state(obj).info
        if _SCHEDULED_FROM in info:  # scheduled twice in the transaction: told once, the last time
            notify.on_scheduled(
                session, work_order_id=obj.id, old_eta=info.pop(_SCHEDULED_FROM), new_eta=obj.eta_at
            )
            if _SCHEDULED_WAS in info:
                _scheduled_by_hand(session, obj, info.pop(_SCHEDULED_WAS))
    elif kind == "cancellation":
        reservations.release_for_work_order(session, work_order_id=obj.id)
        notify.on_cancelled(session, work_order_id=obj.id)
        tz, today = _today(session, obj.region_id)
        day = plan_keys.local_day(obj.planned_start_at, tz) if obj.planned_start_at else today
        if day >= today:
            request_replan(session, region_id=obj.region_id, day=day, trigger=kind, ref=str(obj.id))
    elif kind == "emergency":
        tz, today = _today(session, obj.region_id)
        if obj.appointment_start_at:
            day = plan_keys.local_day(obj.appointment_start_at, tz)
        else:
            day = inspect(obj).info.get(_DAY, today)
        request_replan(session, region_id=obj.region_id, day=day, trigger=kind, ref=str(obj.id))
    elif kind in ("on_call", "on_call_removed"):
        # added: cover for an urgent visit nobody on shift could reach, maybe; removed: a plan may
        # count on cover that is gone (cover over already changes nothing from now on)
        engineer = session.get(Engineer, obj.engineer_id)
        if engineer is None or (kind == "on_call_removed" and obj.ends_at <= utcnow()):
            return
        tz, today = _today(session, engineer.region_id)
        day = max(today, plan_keys.local_day(obj.starts_at, tz))
        last = plan_keys.local_day(obj.ends_at - timedelta(seconds=1), tz)
        while day <= last:
            request_replan(session, region_id=engineer.region_id, day=day, trigger=kind, ref=cover_ref(obj))
            day += timedelta(days=1)
    elif kind in ("sickness", "absence_removed"):  # removed: the engineer may take visits again
        engineer = session.get(Engineer, obj.engineer_id)
        if engineer is None:
            return
        _, today = _today(session, engineer.region_id)
        if obj.day >= today:
            request_replan(
                session, region_id=engineer.region_id, day=obj.day, trigger=kind, ref=absence_ref(obj)
            )


def _scheduled_by_hand(session: Session, work_order: WorkOrder, was_at: datetime | None) -> None:
    """A dispatcher set the visit's engineer and start by hand. The published plan still has it
    where the engine put it: the board drew it at the plan's 09:45 beside the route page's and
    the notice's 13:30, and its engineer's other stops could run over 13:30, until some other
    event re-planned the day. The re-plan keeps it at the hand-set time (`inputs.hand_timed`) and
    routes the others around it. The day it left is re-planned too (moved to another day: that
    day's plan still holds it). Each schedule is its own event. Only a person's schedule: a
    re-plan does not keep one without an actor (a system's), and would take it back."""
    if work_order.planned_start_at is None:
        return
    tz, today = _today(session, work_order.region_id)
    days = {plan_keys.local_day(work_order.planned_start_at, tz)}
    if was_at is not None:
        days.add(plan_keys.local_day(was_at, tz))
    ref = f"{work_order.id}.{secrets.token_hex(4)}"
    for day in sorted(days):
        if day >= today:  # a past day's plan is history
            request_replan(session, region_id=work_order.region_id, day=day, trigger="scheduled", ref=ref)


def _worked_other_day(session: Session, work_order: WorkOrder) -> None:
    """Checked in on another day than planned (Tuesday's visit done on Monday): both days' plans
    are wrong. The planned day's still holds a visit that is being done now (and times the others
    around it); the worked day's lacks the time the engineer spends there. A plan loads a started
    visit on its check-in day (`inputs.day_work_orders`), so re-planning both fixes both: the
    frozen visit lands on the worked day at its real times, the planned day is planned without it,
    and customers whose times move are told by the publish as for any re-plan. Checked in on the
    planned day is `_checked_in_out_of_order`'s case."""
    if work_order.checked_in_at is None or work_order.planned_start_at is None:
        return
    tz, today = _today(session, work_order.region_id)
    worked = plan_keys.local_day(work_order.checked_in_at, tz)
    planned = plan_keys.local_day(work_order.planned_start_at, tz)
    if worked == planned:
        return
    for day in sorted({planned, worked}):
        if day >= today:  # a past day's plan is history: it is not planned again
            request_replan(
                session,
                region_id=work_order.region_id,
                day=day,
                trigger="worked_other_day",
                ref=check_in_ref(session, work_order),
            )


def _checked_in_out_of_order(session: Session, work_order: WorkOrder) -> None:
    """Checked in on the planned day while a stop planned before it waits (the engineer took the
    third stop first: the customer there called, the first one was not home). The stops skipped
    now come after this visit, so their ETAs, and the times their customers were told, are wrong
    from this moment. Waiting for `late` (15 min past each skipped start) showed the engineer and
    the desk stale times meanwhile, and a skipped stop due later than the visit's end never went
    late at all. One re-plan of today fixes them all: it freezes the visit on site and times the
    rest after it."""
    if (
        work_order.checked_in_at is None
        or work_order.planned_start_at is None
        or work_order.engineer_id is None
    ):
        return
    tz, today = _today(session, work_order.region_id)
    if plan_keys.local_day(work_order.checked_in_at, tz) != today:
        return  # an old visit's check-in recorded late: today's plan is not about it
    if plan_keys.local_day(work_order.planned_start_at, tz) != today:
        return  # another day's visit: `worked_other_day`
    skipped = session.scalar(
        select(WorkOrder.id)
        .where(
            WorkOrder.engineer_id == work_order.engineer_id,
            WorkOrder.id != work_order.id,
            WorkOrder.status.in_((WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value)),
            WorkOrder.checked_in_at.is_(None),
            WorkOrder.planned_start_at.is_not(None),
            WorkOrder.planned_start_at < work_order.planned_start_at,
            WorkOrder.planned_start_at >= plan_keys.day_reference(today, tz),
        )
        .limit(1)
    )
    if skipped is not None:
        request_replan(
            session,
            region_id=work_order.region_id,
            day=today,
            trigger="out_of_order",
            ref=check_in_ref(session, work_order),
        )


def _token(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%f")


def check_in_ref(session: Session, work_order: WorkOrder) -> str:
    """The ref of a check-in's events: the visit's id, as always, for its first check-in. A visit
    checked in again after an undo (`check_in_undone` on its timeline) adds the check-in instant,
    so that check-in is its own event: with the id alone it found the first one's run and the
    day was not planned again."""
    undone = session.scalar(
        select(WorkOrderEvent.id)
        .where(WorkOrderEvent.work_order_id == work_order.id, WorkOrderEvent.kind == "check_in_undone")
        .limit(1)
    )
    if undone is None or work_order.checked_in_at is None:
        return str(work_order.id)
    return f"{work_order.id}.{_token(work_order.checked_in_at)}"


def _check_in_undone(session: Session, work_order: WorkOrder) -> None:
    """A check-in taken back (a wrong tap). If that check-in re-planned a day (`worked_other_day`,
    `out_of_order`), the plan now freezes a visit nobody is at and may have moved other visits
    (another time, engineer or day). Each such day gets its plan from before the check-in back
    (`undo.restore`: the visits it moved, their parts and notices too) when nothing changed since;
    otherwise it is re-planned again. Each undone check-in is its own event (ref: the visit and
    the instant of the check-in withdrawn), so undoing a second check-in of the same visit asks
    again."""
    at = instance_state(work_order).info.pop(_UNDONE, None)
    if at is None:
        return
    runs = session.scalars(
        select(PlanRun)
        .where(
            PlanRun.trigger.in_(CHECK_IN_TRIGGERS),
            PlanRun.trigger_ref.in_((str(work_order.id), f"{work_order.id}.{_token(at)}")),
            PlanRun.created_at >= at,  # requested by this check-in, not an earlier one
        )
        .order_by(PlanRun.id)
    ).all()
    _, today = _today(session, work_order.region_id)
    now = utcnow()
    for region_id, day in sorted({(r.region_id, r.day) for r in runs}):
        if day < today:  # a past day's plan is history
            continue
        if any(
            plan_undo.restore(session, r, undone_id=work_order.id, now=now)
            for r in runs
            if (r.region_id, r.day) == (region_id, day)
        ):
            continue
        ref = f"{work_order.id}.{_token(at)}"
        request_replan(session, region_id=region_id, day=day, trigger="check_in_undone", ref=ref)


def _stock_cut(session: Session, reservation: StockReservation) -> None:
    """A planned visit lost (some of) the parts held for it: a count found fewer on the shelf, or a
    report used them on another visit (`stock.make_room`). Its plan still sends the engineer for
    them; a re-plan of its day sources them again (another van, another warehouse) or leaves the
    visit out saying why. Each cut is its own event (a reservation may be cut twice)."""
    work_order = session.get(WorkOrder, reservation.work_order_id)
    if (
        work_order is None
        or work_order.status != WorkOrderStatus.scheduled.value
        or work_order.planned_start_at is None
    ):
        return  # not planned (an unscheduled visit is sourced when it is planned), or under way
    tz, today = _today(session, work_order.region_id)
    day = plan_keys.local_day(work_order.planned_start_at, tz)
    if day >= today:
        request_replan(
            session,
            region_id=work_order.region_id,
            day=day,
            trigger="stock_cut",
            ref=f"{reservation.id}.{secrets.token_hex(4)}",
        )


# ------------------------------------------------------------------------------- late visits
def late_visits(session: Session, now: datetime | None = None) -> list[WorkOrder]:
    """Visits not yet started whose planned start (or ETA, when en route) is more than the
    margin behind the clock."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=get_settings().late_margin_min)
    rows = session.scalars(
        select(WorkOrder).where(
            WorkOrder.status.in_((WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value)),
            WorkOrder.engineer_id.is_not(None),
            WorkOrder.checked_in_at.is_(None),
            WorkOrder.planned_start_at.is_not(None),
            WorkOrder.planned_start_at < cutoff,
            WorkOrder.planned_start_at > now - timedelta(hours=24),  # today's, not forgotten ones
        )
    )
    late = []
    for w in rows:  # en route: the ETA counts (it may be later than the planned start)
        due = w.eta_at if w.status == WorkOrderStatus.en_route and w.eta_at else w.planned_start_at
        if due is not None and due < cutoff:
            late.append(w)
    return late


def check_late(session: Session, now: datetime | None = None) -> list[int]:
    """Request a re-plan for each region with late visits today; returns the runs requested."""
    now = now or utcnow()
    by_day: dict[tuple[int, date], list[WorkOrder]] = {}
    for w in late_visits(session, now):
        tz, today = _today(session, w.region_id)
        assert w.planned_start_at is not None
        if plan_keys.local_day(w.planned_start_at, tz) == today:
            by_day.setdefault((w.region_id, today), []).append(w)
    runs = []
    for (region_id, day), visits in sorted(by_day.items()):
        # The same lateness (same visits, same planned times) asks once; a new plan that is
        # late again is a new event.
        sig = ",".join(f"{w.id}@{(w.eta_at or w.planned_start_at).isoformat()}" for w in visits)  # type: ignore[union-attr]
        ref = hashlib.sha256(sig.encode()).hexdigest()[:16]
        if session.scalar(
            select(PlanRun.id).where(PlanRun.request_key == request_key("late", region_id, day, ref))
        ):
            continue  # this lateness was handled already
        run = request_replan(
            session, region_id=region_id, day=day, trigger="late", ref=ref, skip_if_running=True
        )
        if run is not None and run.trigger == "late" and run.trigger_ref == ref:
            runs.append(run.id)
    return runs
