"""Take back a check-in's re-plan when the check-in is undone (a wrong tap).

A check-in that re-planned a day (`worked_other_day`, `out_of_order`: app/planning/triggers.py)
may have moved other visits: re-timed them, given them to another engineer, left them out, or
pulled one from a later day. Its publish keeps on the run (`stats["undo"]`, `capture` + `keep`)
what it replaced: the day's plan before it, each visit it changed as it was (engineer, start, ETA,
status, risk mark), the version it left each of the day's visits at, the part holds it released
and the stops it took off a later day's plan. A re-plan that lost a version conflict (a visit
edited while it solved) writes nothing: the retry run that plans the day again for it
(`runs.retry_after_conflict`) is the check-in's re-plan then, and its publish keeps the same,
naming the check-in's run (`check_in_run_id`); `restore` follows the check-in's run to it.

When the check-in is undone, `restore` puts all that back — the day's plan is the one before the
check-in again — but only when nothing happened since: the run is still the day's plan, no other
run of the day is queued or running, every visit it loaded is still at the version it left (a
later plan, a dispatcher's schedule, another check-in, a cancellation all move it), a later day's
plan it took a stop from is still that day's plan, the plan it replaced was published before the
check-in, and no visit would go back to a start already past. Otherwise the caller re-plans the
day (`check_in_undone`), whose publish never overwrites a visit changed meanwhile (its version
check, docs/planning.md). All or nothing per day: half the visits back and half where the check-in
put them could double-book an engineer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.inventory import reservations
from app.field.workorders import risk
from app.field.workorders.status import add_event, change_status, summary
from app.models import PlanDay, PlanRun, PlanRunStatus, PlanStop, WorkOrder, WorkOrderStatus
from app.planning import notify
from app.platform import audit
from app.platform.events import emit

log = logging.getLogger(__name__)
# The events of a check-in that re-plan a day (app/planning/triggers.py): their runs are undoable.
UNDOABLE = ("worked_other_day", "out_of_order")
KEY = "undo"  # in PlanRun.stats
_PLANNED = ("engineer_id", "planned_start_at", "eta_at")
_FIELDS = (*_PLANNED, "status", "at_risk_since", "at_risk_reason")
_HOLD = ("work_order_id", "part_id", "location_id", "quantity", "pickup_engineer_id", "plan_run_id")
_STOP = [c.key for c in PlanStop.__table__.columns if c.key != "id"]


@dataclass(frozen=True)
class Capture:
    """The day as an undoable run found it, taken under the publish's locks before it writes."""

    check_in_run_id: int
    previous_run_id: int | None
    before: dict[int, dict[str, Any]]
    released: list[dict[str, Any]]
    left_stops: list[dict[str, Any]]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _values(wo: WorkOrder) -> dict[str, Any]:
    return {k: _plain(getattr(wo, k)) for k in _FIELDS}


def capture(
    session: Session,
    *,
    run: PlanRun,
    previous_run_id: int | None,
    work_orders: dict[int, WorkOrder],
    pulled: set[int],
    day: object,
) -> Capture | None:
    """What an undoable run is about to replace (None for any other run: nothing kept)."""
    origin = _check_in_run(session, run)
    if origin is None:
        return None
    ids = sorted(work_orders)
    left: list[dict[str, Any]] = []
    if pulled:  # the stops `publish._leave_other_day` deletes from a later day's plan
        other = select(PlanDay.current_run_id).where(
            PlanDay.region_id == run.region_id, PlanDay.day != day, PlanDay.current_run_id.is_not(None)
        )
        stops = session.scalars(
            select(PlanStop).where(PlanStop.work_order_id.in_(pulled), PlanStop.plan_run_id.in_(other))
        )
        left = [{c: _plain(getattr(s, c)) for c in _STOP} for s in stops]
    return Capture(
        check_in_run_id=origin.id,
        previous_run_id=previous_run_id,
        before={i: _values(work_orders[i]) for i in ids},
        released=[{c: getattr(r, c) for c in _HOLD} for r in reservations.held_for(session, ids)],
        left_stops=left,
    )


def keep(run: PlanRun, cap: Capture, work_orders: dict[int, WorkOrder]) -> None:
    """After the publish wrote (and flushed): keep what it changed, and the versions it left."""
    changed = {i: b for i, b in cap.before.items() if b != _values(work_orders[i])}
    run.stats = {
        **run.stats,
        KEY: {
            "check_in_run_id": cap.check_in_run_id,
            "previous_run_id": cap.previous_run_id,
            "versions": {str(i): w.version for i, w in sorted(work_orders.items())},
            "before": {str(i): b for i, b in changed.items()},
            "released": cap.released,
            "left_stops": [s for s in cap.left_stops if s["work_order_id"] in changed],
        },
    }


def restore(session: Session, run: PlanRun, *, undone_id: int, now: datetime) -> bool:
    """Put the day back as it was before `run` (a re-plan the undone check-in asked for), if that
    is safe (module doc); False: nothing was written, the day needs a re-plan."""
    asked = run
    run = _published_as(session, run)
    kept = (run.stats or {}).get(KEY)
    if run.status != PlanRunStatus.published or not kept or kept.get("restored_at"):
        return False
    if kept.get("check_in_run_id", run.id) != asked.id:  # (kept before the key was: the run itself)
        return False  # another check-in's re-plan
    previous = kept.get("previous_run_id")
    prior = session.get(PlanRun, previous) if previous is not None else None
    if prior is None or prior.published_at is None or prior.published_at > asked.created_at:
        # The plan it replaced came after the check-in (a run that published while the check-in's
        # solved, so its retry replaced that one): not the plan from before the check-in.
        return False
    plan_day = _lock_day(session, run.region_id, run.day)
    if plan_day is None or plan_day.current_run_id != run.id or _busy(session, run):
        return False
    versions = {int(k): int(v) for k, v in kept["versions"].items()}
    rows = {
        w.id: w
        for w in session.scalars(
            select(WorkOrder)
            .where(WorkOrder.id.in_(sorted(versions)))
            .order_by(WorkOrder.id)  # the publish's lock order: no deadlock with one
            .with_for_update()
        )
    }
    if any(i != undone_id and (i not in rows or rows[i].version != v) for i, v in versions.items()):
        return False  # someone (or something) changed a visit of the day since: theirs stands
    before = {int(k): b for k, b in kept["before"].items() if int(k) != undone_id}
    for b in before.values():
        start = _instant(b["planned_start_at"])
        if b["status"] == WorkOrderStatus.scheduled and start is not None and start < now:
            return False  # the old time has passed: a re-plan times it from now
    other_days = _other_days(session, run, kept["left_stops"])
    if other_days is None:
        return False

    moved = _put_back(session, rows, before, previous, now)
    _rehold(session, run, sorted(versions), kept["released"])
    for s in kept["left_stops"]:
        values = {c: (_instant(v) if c.endswith("_at") else v) for c, v in s.items()}
        session.add(PlanStop(**values))
    plan_day.current_run_id, plan_day.published_at = previous, now
    run.stats = {**run.stats, KEY: {**kept, "restored_at": now.isoformat()}}
    session.flush()
    _marks_of_the_plan(session, rows, undone_id, now)
    notify.on_restored(session, moved=moved)
    log.info("plan run %s taken back by an undone check-in: run %s is the plan again", run.id, previous)
    return True


def _check_in_run(session: Session, run: PlanRun) -> PlanRun | None:
    """The check-in's run `run` re-plans for: itself, or for a conflict's retry the run it retries
    (through retries of retries); None when that is no check-in's re-plan."""
    cur: PlanRun | None = run
    while cur is not None and cur.trigger == "conflict" and cur.retry_of_id is not None:
        cur = session.get(PlanRun, cur.retry_of_id)  # an older run: ids only go down, no loop
    return cur if cur is not None and cur.trigger in UNDOABLE else None


def _published_as(session: Session, run: PlanRun) -> PlanRun:
    """The run that published for `run`: itself, or the retry (of a retry) a version conflict
    started in its place (`runs.retry_after_conflict`, `summary.retried_as`)."""
    while run.status == PlanRunStatus.conflict and (retry_id := (run.summary or {}).get("retried_as")):
        retry = session.get(PlanRun, int(retry_id))
        if retry is None or retry.id <= run.id:  # a retry is always newer: never loop
            break
        run = retry
    return run


def _lock_day(session: Session, region_id: int, day: object) -> PlanDay | None:
    return session.scalar(
        select(PlanDay)
        .where(PlanDay.region_id == region_id, PlanDay.day == day)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _busy(session: Session, run: PlanRun) -> bool:
    """Another run of the day is waiting or solving: it plans from the newest state anyway (a
    restore under a running one could be overwritten by a plan that froze the undone visit)."""
    return (
        session.scalar(
            select(PlanRun.id)
            .where(
                PlanRun.region_id == run.region_id,
                PlanRun.day == run.day,
                PlanRun.id != run.id,
                PlanRun.status.in_((PlanRunStatus.queued.value, PlanRunStatus.running.value)),
            )
            .limit(1)
        )
        is not None
    )


def _other_days(session: Session, run: PlanRun, left: list[dict[str, Any]]) -> list[PlanDay] | None:
    """The later days' plans the run took stops from, still those days' plans (locked); None: one
    was planned again since, so the stop cannot simply go back."""
    days = []
    for run_id in sorted({int(s["plan_run_id"]) for s in left}):
        other = session.get(PlanRun, run_id)
        plan_day = _lock_day(session, run.region_id, other.day) if other else None
        if plan_day is None or plan_day.current_run_id != run_id:
            return None
        days.append(plan_day)
    return days


def _put_back(
    session: Session,
    rows: dict[int, WorkOrder],
    before: dict[int, dict[str, Any]],
    previous: int,
    now: datetime,
) -> list[Any]:
    """Each visit the run changed gets its engineer, start, ETA, status and risk mark back."""
    from app.planning.publish import SIGNIFICANT_MOVE, Moved  # publish imports this module

    moved = []
    for wo_id, b in sorted(before.items()):
        wo = rows[wo_id]
        old_eta, old_engineer, old_start = wo.eta_at, wo.engineer_id, wo.planned_start_at
        values = {k: (b[k] if k == "engineer_id" else _instant(b[k])) for k in _PLANNED}
        changes = audit.apply_changes(wo, values)
        reason = f"check-in undone: plan run {previous} restored"
        _mark_back(session, wo, b, reason, now)
        if wo.status != b["status"]:
            change_status(session, wo, b["status"], actor=None, at=now, reason=reason)
            if b["status"] == WorkOrderStatus.scheduled:
                tickets.on_visit_scheduled(session, ticket_id=wo.ticket_id, at=now, actor=None)
        if not changes:
            continue
        moved.append(Moved(wo.id, old_eta, wo.eta_at))
        audit.record(session, None, "work_order", wo.id, "plan_restored", changes)
        start = wo.planned_start_at
        real = (
            old_engineer != wo.engineer_id
            or old_start is None
            or start is None
            or abs(start - old_start) >= SIGNIFICANT_MOVE
        )
        if real and wo.engineer_id is not None:  # as a publish tells a real move
            data = {**{k: _plain(v) for k, v in values.items()}, "plan_run_id": previous, "restored": True}
            add_event(session, wo, "scheduled", actor=None, at=now, data=data)
            told = {**summary(wo), "eta_at": wo.eta_at, "plan_run_id": previous}
            emit(session, "workorder.scheduled", told)
    session.flush()
    return moved


def _mark_back(session: Session, wo: WorkOrder, before: dict[str, Any], why: str, now: datetime) -> None:
    """The risk mark the visit had before the run, through `risk` as a publish sets it: the
    ticket's mark and both timelines follow (written on the visit alone, a ticket the run had
    cleared stayed clear, and the sweep re-words a mark without marking the ticket again)."""
    since = _instant(before["at_risk_since"])
    if since is None:
        risk.clear(session, wo, why, at=now)
        return
    if wo.at_risk_since is None:
        risk.mark(session, wo, before["at_risk_reason"] or why, at=now)
        wo.at_risk_since = since  # at risk all along: the run's clearing is what is taken back
    wo.at_risk_reason = before["at_risk_reason"]


def _marks_of_the_plan(session: Session, rows: dict[int, WorkOrder], undone_id: int, now: datetime) -> None:
    """With the plan from before the check-in current again, each visit of the day (the undone
    one too) gets the mark that plan gives it, as the sweep would in a minute (`risk.judge_now`):
    the check-in settled the undone visit's mark (on site), and a visit the plan kept at a time
    set by hand but could not fit ("kept at … cannot fit") is not one the sweep picks up again."""
    undone = rows.get(undone_id) or session.get(WorkOrder, undone_id)
    for wo in sorted({*rows.values(), *([undone] if undone else [])}, key=lambda w: w.id):
        risk.judge_now(session, wo, at=now)
    session.flush()


def _rehold(session: Session, run: PlanRun, ids: list[int], released: list[dict[str, Any]]) -> None:
    """The parts the run held go back; those it released are held again where there still are
    (a part used meanwhile is not: the next plan sources it, as for any shortage)."""
    reservations.release(session, [r for r in reservations.held_for(session, ids) if r.plan_run_id == run.id])
    for hold in released:
        if hold["quantity"] > 0 and reservations.reserve(session, **hold) is None:
            log.info("undone re-plan %s: part %s no longer free", run.id, hold["part_id"])
    session.flush()
