"""Publish a solved plan: the engine's `Plan` back into assignments, in ONE transaction.

Readers follow `PlanDay.current_run_id`, flipped at the end of the same transaction that writes
the run's stops, the work orders' engineer/start/ETA/status and the part reservations, so they
see the old plan or the new one, never half.

Guards, checked under row locks before anything is written:
- a run publishes at most once (its status leaves `running` in the same transaction);
- a run older than the published one is `superseded`;
- a work order edited since the run loaded it (its version moved: a dispatcher's change, a
  check-in, a cancellation) is never overwritten: the run ends `conflict`, writes nothing, and
  the caller starts a fresh run on the new state (docs/planning.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import dispatch
from app.desk.tickets import service as tickets
from app.field.inventory import reservations
from app.field.workorders import risk
from app.field.workorders.status import add_event, change_status, summary
from app.models import (
    PlanDay,
    PlanRoute,
    PlanRun,
    PlanRunStatus,
    PlanStop,
    PlanUnassigned,
    StockLevel,
    WorkOrder,
    WorkOrderStatus,
)
from app.planning import notify, reasons, room, undo
from app.planning.keys import cover_of, from_s, key_id
from app.planning.service import Loaded
from app.platform import audit
from app.platform.db import utcnow
from app.platform.events import emit

SIGNIFICANT_MOVE = timedelta(minutes=1)


@dataclass(frozen=True)
class CarryOver:
    """A partial run (a manual assignment) keeps the rest of the published plan as it was."""

    from_run_id: int
    replace_engineers: set[int]  # their routes come from the new plan
    drop_work_orders: set[int]  # taken out of the carried routes (moved to a replaced one)


@dataclass(frozen=True)
class Moved:
    """A visit whose assignment the publish changed (for customer notifications)."""

    work_order_id: int
    old_eta: datetime | None
    new_eta: datetime | None


def lock_plan_day(session: Session, region_id: int, day: object) -> PlanDay:
    stmt = select(PlanDay).where(PlanDay.region_id == region_id, PlanDay.day == day).with_for_update()
    found = session.scalar(stmt)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            found = PlanDay(region_id=region_id, day=day)
            session.add(found)
    except IntegrityError:  # another publish created it first: take its lock
        found = session.scalar(stmt)
        assert found is not None
    return found


def conflicts(session: Session, versions: dict[int, int]) -> tuple[list[int], dict[int, WorkOrder]]:
    """Lock the run's work orders (in id order: concurrent publishers never deadlock) and name
    those whose version moved since the run loaded them."""
    rows = {
        w.id: w
        for w in session.scalars(
            select(WorkOrder)
            .where(WorkOrder.id.in_(list(versions)))
            .order_by(WorkOrder.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    edited = sorted(i for i, v in versions.items() if i not in rows or rows[i].version != v)
    return edited, rows


def publish(
    session: Session,
    *,
    run_id: int,
    loaded: Loaded,
    plan: dispatch.Plan | None,
    locked: Iterable[int] = (),
    carry_over: CarryOver | None = None,
) -> str:
    """Write `plan` as the region's day; returns the run's final status."""
    run = session.scalar(
        select(PlanRun)
        .where(PlanRun.id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if run is None or run.status != PlanRunStatus.running:
        return run.status if run else "missing"  # finished already (a redelivery): nothing twice
    plan_day = lock_plan_day(session, loaded.region_id, loaded.day)
    previous_run_id = plan_day.current_run_id
    now = utcnow()
    current = session.get(PlanRun, plan_day.current_run_id) if plan_day.current_run_id else None
    if current is not None and current.id != loaded.current_run_id and _newer(current, run):
        _finish(run, PlanRunStatus.superseded, now, summary={**run.summary, "superseded_by": current.id})
        return run.status
    edited, work_orders = conflicts(session, loaded.versions)
    if edited:
        _finish(run, PlanRunStatus.conflict, now, summary={**run.summary, "conflicts": edited})
        return run.status

    # A check-in's re-plan (or the retry of one that lost a conflict) keeps what it replaces, for
    # the check-in's undo (app/planning/undo.py).
    kept = undo.capture(
        session,
        run=run,
        previous_run_id=previous_run_id,
        work_orders=work_orders,
        pulled=loaded.pulled,
        day=loaded.day,
    )
    locked_ids = set(loaded.locked) | set(locked)
    moved, kept_unfit = _write_routes(session, run, loaded, plan, work_orders, locked_ids)
    if carry_over is not None:
        carried = _carry(session, run.id, carry_over, set(loaded.versions))
        kept_unfit = {**_kept_unfit_of(session, carry_over.from_run_id, carried), **kept_unfit}
    shortages = _reserve(session, run, loaded, plan) + _left_out_for_parts(session, run, loaded)
    plan_day.current_run_id = run.id
    plan_day.published_at = now
    result = plan_summary(loaded, plan)
    result.update(shortages=shortages, changed=len(moved))
    # what the at-risk sweep reads to keep these visits' marks (`risk.kept_by_plan`)
    result[risk.KEPT_UNFIT] = {str(i): why for i, why in sorted(kept_unfit.items())}
    _finish(run, PlanRunStatus.published, now, summary={**run.summary, **result})
    run.published_at = now
    run.objective = plan.objective if plan else None
    session.flush()
    if kept is not None:
        undo.keep(run, kept, work_orders)
    notify.on_published(session, run_id=run.id, moved=moved)
    return run.status


def _newer(current: PlanRun, run: PlanRun) -> bool:
    a = current.started_at or current.created_at
    b = run.started_at or run.created_at
    return (a, current.id) > (b, run.id)


def _finish(run: PlanRun, status: PlanRunStatus, now: datetime, *, summary: dict[str, Any]) -> None:
    run.status = status.value
    run.finished_at = now
    run.progress = 100
    run.summary = summary


def _write_routes(
    session: Session,
    run: PlanRun,
    loaded: Loaded,
    plan: dispatch.Plan | None,
    work_orders: dict[int, WorkOrder],
    locked: set[int],
) -> tuple[list[Moved], dict[int, str]]:
    """The run's stops, the work orders' assignments and at-risk marks: the visits whose
    assignment changed, and those kept at a time set by hand that the plan cannot fit (`_risks`)."""
    ref = loaded.ref
    by_engineer: dict[int, list[PlanStop]] = {}
    for f in loaded.fixed:  # started and finished visits stay as they are
        by_engineer.setdefault(f.engineer_id, []).append(
            PlanStop(
                plan_run_id=run.id,
                engineer_id=f.engineer_id,
                seq=0,
                kind="job",
                work_order_id=f.work_order_id,
                arrival_at=f.start_at,
                start_at=f.start_at,
                end_at=f.end_at,
                fixed=True,
                locked=True,
            )
        )
    served: dict[int, tuple[int, dispatch.Stop]] = {}
    route_rows: dict[int, PlanRoute] = {}
    kept_out = _kept_out(loaded, plan, work_orders)
    for route in plan.routes if plan else ():
        eng = key_id(route.engineer_id)
        cover = cover_of(route.engineer_id)
        stops = by_engineer.setdefault(eng, [])
        for st in route.stops:
            if st.kind == "break" and any(
                a <= from_s(ref, st.start) and from_s(ref, st.end) <= b for a, b in kept_out.get(eng, ())
            ):
                continue  # the time blocked for a visit kept there (`held`): the visit's stop shows it
            wo_id = key_id(st.id) if st.kind == "job" else None
            if wo_id is not None:
                served[wo_id] = (eng, st)
            stops.append(
                PlanStop(
                    plan_run_id=run.id,
                    engineer_id=eng,
                    seq=0,
                    kind=st.kind,
                    work_order_id=wo_id,
                    warehouse_id=key_id(st.id) if st.kind == "pickup" else None,
                    arrival_at=from_s(ref, st.arrival),
                    start_at=from_s(ref, st.start),
                    end_at=from_s(ref, st.end),
                    late_s=st.late_s,
                    parts={str(loaded.part_ids[p]): q for p, q in st.parts.items() if p in loaded.part_ids},
                    locked=wo_id in locked,
                    cover=cover,
                )
            )
        if route.stops:
            _add_route(route_rows, run.id, eng, ref, route)
    for wo_id, keep in loaded.held.items():
        if wo_id not in served:  # the engine could not fit it: it stays as it stands
            by_engineer.setdefault(keep[0], []).append(_held_stop(run, work_orders[wo_id], keep))
    session.add_all(route_rows.values())
    for stops in by_engineer.values():
        stops.sort(key=lambda s: (s.start_at, s.fixed is False))
        for i, s in enumerate(stops):
            s.seq = i
        session.add_all(stops)
    jobs = {j.id: j for j in loaded.problem.jobs} if loaded.problem else {}
    names = reasons.engineer_names(session, loaded.region_id) if plan and plan.unassigned else {}
    # the kept visits' numbers, from the rows in hand: a day held only by them is not "full" (`room`)
    numbers = {i: work_orders[i].number or f"visit {i}" for i in loaded.held if i in work_orders}
    unassigned = (
        {
            key_id(u.job_id): room.left_out(loaded, plan, jobs.get(u.job_id), u, names, numbers)
            for u in plan.unassigned
        }
        if plan
        else {}
    )
    for wo_id in loaded.versions:
        if wo_id not in served and wo_id not in unassigned:
            unassigned[wo_id] = reasons.nobody_works(loaded)
    for wo_id, u in unassigned.items():
        if wo_id in loaded.held:  # stays where the dispatcher put it: a stop, marked at risk
            continue
        session.add(PlanUnassigned(plan_run_id=run.id, work_order_id=wo_id, reason=u.reason, detail=u.detail))

    with session.no_autoflush:  # one flush at the end, not one per webhook lookup
        moved = _assign(session, run, loaded, work_orders, served, unassigned)
    session.flush()
    kept_unfit = _risks(session, loaded, work_orders, served, unassigned)
    return moved, kept_unfit


def _kept_out(
    loaded: Loaded, plan: dispatch.Plan | None, work_orders: dict[int, WorkOrder]
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Engineer id -> the times of the visits kept at a time set by hand that the engine left out
    (each stays a stop there, `_held_stop`; the second solve blocked those times, `held.around`)."""
    out: dict[int, list[tuple[datetime, datetime]]] = {}
    for u in plan.unassigned if plan else ():
        wo_id = key_id(u.job_id)
        if wo_id in loaded.held and wo_id in work_orders:
            engineer_id, start = loaded.held[wo_id]
            end = start + timedelta(minutes=work_orders[wo_id].duration_min)
            out.setdefault(engineer_id, []).append((start, end))
    return out


def _held_stop(run: PlanRun, wo: WorkOrder, held: tuple[int, datetime]) -> PlanStop:
    """A visit kept at its hand-set time though the engine could not fit it there (a shift ending
    first, a fixed stop in the way): it stays on the route as it stands, never moved silently."""
    engineer_id, start = held
    return PlanStop(
        plan_run_id=run.id,
        engineer_id=engineer_id,
        seq=0,  # set with the route's others, by start
        kind="job",
        work_order_id=wo.id,
        arrival_at=wo.eta_at or start,
        start_at=start,
        end_at=start + timedelta(minutes=wo.duration_min),
        locked=True,
    )


def _risks(
    session: Session,
    loaded: Loaded,
    work_orders: dict[int, WorkOrder],
    served: dict[int, tuple[int, dispatch.Stop]],
    unassigned: dict[int, dispatch.Unassigned],
) -> dict[int, str]:
    """At risk when this plan's ETA is past the SLA arrival due time, or when the visit is due
    by the end of this day and the plan leaves it out; cleared when this plan meets it. A visit
    left out but due on a later day is that day's plan's business: its mark stays as it is.
    Returns {work order id: why} of the visits kept at a time set by hand that it cannot fit."""
    now = utcnow()
    kept_unfit: dict[int, str] = {}
    for wo_id in sorted(loaded.versions):
        wo = work_orders[wo_id]
        due = None if wo_id in loaded.arrival_settled else wo.sla_deadline_at
        if wo_id in loaded.pulled and wo_id not in served:
            continue  # still on its later day, whose plan set its mark
        if wo_id in loaded.held and wo_id not in served:
            why = unassigned[wo_id].reason.replace("_", " ") if wo_id in unassigned else "left out"
            kept_unfit[wo_id] = why
            risk.mark(session, wo, risk.kept_reason(loaded.held[wo_id][1], why, loaded.tz), at=now)
            continue
        if due is None:
            if wo_id in served or wo.sla_deadline_at is not None:  # served, or the ticket arrived
                why = "no SLA arrival due time" if wo.sla_deadline_at is None else risk.ARRIVED
                risk.clear(session, wo, why, at=now)
            continue
        if wo_id in served:
            if wo.eta_at is not None and wo.eta_at > due:
                risk.mark(session, wo, risk.eta_reason(wo.eta_at, due, loaded.tz), at=now)
            else:
                eta = risk.local(wo.eta_at, loaded.tz) if wo.eta_at else "unknown"
                risk.clear(session, wo, f"planned arrival {eta} meets the due time", at=now)
        elif due < loaded.day_end:
            why = unassigned[wo_id].reason.replace("_", " ") if wo_id in unassigned else "left out"
            risk.mark(
                session,
                wo,
                f"no plan for {loaded.day.isoformat()} can serve it ({why}); "
                f"arrival due {risk.local(due, loaded.tz)}",
                at=now,
            )
    session.flush()
    return kept_unfit


def _add_route(
    rows: dict[int, PlanRoute], run_id: int, eng: int, ref: datetime, route: dispatch.Route
) -> None:
    """One PlanRoute per engineer and run: an engineer's shift and on-call cover (two engine
    routes on the same day) add up."""
    dep, back = from_s(ref, route.departure), from_s(ref, route.arrival_home)
    late = sum(s.late_s for s in route.stops)
    row = rows.get(eng)
    if row is None:
        rows[eng] = PlanRoute(
            plan_run_id=run_id,
            engineer_id=eng,
            departure_at=dep,
            return_at=back,
            travel_m=route.travel_m,
            travel_s=route.travel_s,
            jobs=len(route.job_ids),
            late_s=late,
        )
        return
    row.departure_at, row.return_at = min(row.departure_at, dep), max(row.return_at, back)
    row.travel_m += route.travel_m
    row.travel_s += route.travel_s
    row.jobs += len(route.job_ids)
    row.late_s += late


def _carry(session: Session, run_id: int, carry: CarryOver, replanned: set[int]) -> set[int]:
    """Copy the other engineers' routes (and still-open unassigned visits) into the new run;
    returns the work orders whose stops were copied."""
    keep = [
        st
        for st in session.scalars(select(PlanStop).where(PlanStop.plan_run_id == carry.from_run_id))
        if st.engineer_id not in carry.replace_engineers and st.work_order_id not in carry.drop_work_orders
    ]
    cols = [c.key for c in PlanStop.__table__.columns if c.key not in ("id", "plan_run_id")]
    session.add_all(PlanStop(plan_run_id=run_id, **{c: getattr(st, c) for c in cols}) for st in keep)
    rcols = [c.key for c in PlanRoute.__table__.columns if c.key not in ("id", "plan_run_id")]
    for r in session.scalars(select(PlanRoute).where(PlanRoute.plan_run_id == carry.from_run_id)):
        if r.engineer_id not in carry.replace_engineers:
            session.add(PlanRoute(plan_run_id=run_id, **{c: getattr(r, c) for c in rcols}))
    for u in session.scalars(select(PlanUnassigned).where(PlanUnassigned.plan_run_id == carry.from_run_id)):
        if u.work_order_id not in replanned and u.work_order_id not in carry.drop_work_orders:
            session.add(
                PlanUnassigned(
                    plan_run_id=run_id, work_order_id=u.work_order_id, reason=u.reason, detail=u.detail
                )
            )
    session.flush()
    return {st.work_order_id for st in keep if st.work_order_id is not None}


def _kept_unfit_of(session: Session, run_id: int, work_order_ids: set[int]) -> dict[int, str]:
    """The carried visits the run a partial run starts from kept but could not fit: they stand
    as they stood, and so does that run's word on them (`risk.KEPT_UNFIT`)."""
    run = session.get(PlanRun, run_id)
    said = (run.summary or {}).get(risk.KEPT_UNFIT, {}) if run is not None else {}
    return {int(k): why for k, why in said.items() if int(k) in work_order_ids}


def _assign(
    session: Session,
    run: PlanRun,
    loaded: Loaded,
    work_orders: dict[int, WorkOrder],
    served: dict[int, tuple[int, dispatch.Stop]],
    unassigned: dict[int, dispatch.Unassigned],
) -> list[Moved]:
    """The run's work orders take their engineer, start, ETA and status from the plan."""
    moved: list[Moved] = []
    ref = loaded.ref
    now = utcnow()
    for wo_id in sorted(loaded.versions):
        wo = work_orders[wo_id]
        old_eta = wo.eta_at
        if wo_id in loaded.held:
            continue  # scheduled by hand: served at that very start or kept there (`_risks`)
        if wo_id in served:
            eng, st = served[wo_id]
            start_at = from_s(ref, st.start)
            values = {"engineer_id": eng, "planned_start_at": start_at, "eta_at": from_s(ref, st.arrival)}
            old_engineer, old_start = wo.engineer_id, wo.planned_start_at
            if wo_id in loaded.pulled:
                _leave_other_day(session, loaded, wo_id)
            changes = audit.apply_changes(wo, values)
            newly = wo.status == WorkOrderStatus.unscheduled
            if newly:
                change_status(
                    session, wo, WorkOrderStatus.scheduled, actor=None, at=now, reason=f"plan run {run.id}"
                )
                tickets.on_visit_scheduled(session, ticket_id=wo.ticket_id, at=now, actor=None)
            if changes:
                moved.append(Moved(wo.id, old_eta, wo.eta_at))
            # A re-plan nudges many visits by seconds: the new times are written, but the
            # timeline, audit log and webhooks hear only of real moves.
            if changes and (newly or _moved(old_engineer, old_start, eng, start_at)):
                add_event(
                    session, wo, "scheduled", actor=None, at=now, data={**values, "plan_run_id": run.id}
                )
                audit.record(session, None, "work_order", wo.id, "plan", changes)
                emit(
                    session,
                    "workorder.scheduled",
                    {**summary(wo), "eta_at": wo.eta_at, "plan_run_id": run.id},
                )
        elif wo_id in loaded.pulled:
            continue  # offered from a later day and not taken: it keeps that day's slot
        elif wo.status == WorkOrderStatus.scheduled or wo.engineer_id is not None:
            changes = audit.apply_changes(wo, {"engineer_id": None, "planned_start_at": None, "eta_at": None})
            if wo.status == WorkOrderStatus.scheduled:
                reason = f"left out by plan run {run.id}: {unassigned[wo_id].reason}"
                change_status(session, wo, WorkOrderStatus.unscheduled, actor=None, at=now, reason=reason)
            if changes:
                audit.record(session, None, "work_order", wo.id, "plan", changes)
                moved.append(Moved(wo.id, old_eta, None))
    return moved


def _leave_other_day(session: Session, loaded: Loaded, wo_id: int) -> None:
    """A visit pulled forward leaves the published plan of the later day it was on."""
    other = select(PlanDay.current_run_id).where(
        PlanDay.region_id == loaded.region_id, PlanDay.day != loaded.day, PlanDay.current_run_id.is_not(None)
    )
    for st in session.scalars(
        select(PlanStop).where(PlanStop.work_order_id == wo_id, PlanStop.plan_run_id.in_(other))
    ):
        session.delete(st)


def _moved(old_engineer: int | None, old_start: datetime | None, engineer: int, start: datetime) -> bool:
    return old_engineer != engineer or old_start is None or abs(start - old_start) >= SIGNIFICANT_MOVE


def _reserve(
    session: Session, run: PlanRun, loaded: Loaded, plan: dispatch.Plan | None
) -> list[dict[str, Any]]:
    """Release what the run's visits held, then hold what the new routes use: van stock first,
    then the parts the route picks up at a warehouse. Returns what could not be held."""
    # A visit kept at its hand-set time but left out by the engine keeps its parts too.
    served = {key_id(j) for r in (plan.routes if plan else ()) for j in r.job_ids}
    kept = {w for w in loaded.held if w not in served}
    reservations.release(
        session, reservations.held_for(session, [w for w in loaded.versions if w not in kept])
    )
    shortages: list[dict[str, Any]] = []
    for route in plan.routes if plan else ():
        eng = key_id(route.engineer_id)
        van = loaded.van_location.get(eng)
        picked: dict[tuple[int, int], int] = {}  # (warehouse, part) -> units still unassigned
        for st in route.stops:
            if st.kind == "pickup":
                wh = key_id(st.id)
                for sku, q in st.parts.items():
                    key = (wh, loaded.part_ids[sku])
                    picked[key] = picked.get(key, 0) + q
                continue
            if st.kind != "job":
                continue
            wo_id = key_id(st.id)
            for sku, need in st.parts.items():
                part = loaded.part_ids[sku]
                if van is not None:
                    take = min(need, reservations.free_quantity(session, van, part))
                    if take > 0 and reservations.reserve(
                        session,
                        work_order_id=wo_id,
                        part_id=part,
                        location_id=van,
                        quantity=take,
                        plan_run_id=run.id,
                    ):
                        need -= take
                for (wh, p), left in picked.items():
                    loc = loaded.warehouse_location.get(wh)
                    if need <= 0 or p != part or left <= 0 or loc is None:
                        continue
                    take = min(need, left, reservations.free_quantity(session, loc, part))
                    if take > 0 and reservations.reserve(
                        session,
                        work_order_id=wo_id,
                        part_id=part,
                        location_id=loc,
                        quantity=take,
                        pickup_engineer_id=eng,
                        plan_run_id=run.id,
                    ):
                        picked[(wh, p)] -= take
                        need -= take
                if need > 0:
                    shortages.append(
                        {"work_order_id": wo_id, "part_id": part, "missing": need, "left_out": False}
                    )
    session.flush()
    return shortages


def _left_out_for_parts(session: Session, run: PlanRun, loaded: Loaded) -> list[dict[str, Any]]:
    """The visits the run left out for want of a part (`no_part`), each short part with what the
    region lacks for it once this run's reservations are made: the visit's need minus the free
    units of the best capable engineer's van and of every warehouse. Only `_reserve`'s planned
    visits were listed before, so a re-plan that dropped a visit for a part a count took away
    (`stock_cut`) said nothing in `shortages`. Must run after `_reserve`."""
    problem = loaded.problem
    left = set(
        session.scalars(
            select(PlanUnassigned.work_order_id).where(
                PlanUnassigned.plan_run_id == run.id, PlanUnassigned.reason == "no_part"
            )
        )
    )
    if problem is None or not left:
        return []
    jobs = {key_id(j.id): j for j in problem.jobs if key_id(j.id) in left}
    part_ids = {loaded.part_ids[s] for j in jobs.values() for s in j.parts if s in loaded.part_ids}
    warehouses = set(loaded.warehouse_location.values())
    free = {
        (loc, part): max(quantity - reserved, 0)
        for loc, part, quantity, reserved in session.execute(
            select(
                StockLevel.location_id, StockLevel.part_id, StockLevel.quantity, StockLevel.reserved
            ).where(
                StockLevel.location_id.in_(warehouses | set(loaded.van_location.values())),
                StockLevel.part_id.in_(part_ids),
            )
        ).tuples()
    }
    out: list[dict[str, Any]] = []
    for wo_id in sorted(jobs):
        job = jobs[wo_id]
        vans = {
            loaded.van_location[key_id(e.id)]
            for e in problem.engineers
            if job.skills <= e.skills
            and job.pinned_engineer in (None, e.id)
            and key_id(e.id) in loaded.van_location
        }
        lines = []
        for sku, need in sorted(job.parts.items()):
            part = loaded.part_ids.get(sku)
            if part is None:
                continue
            best_van = max((free.get((v, part), 0) for v in vans), default=0)
            in_warehouses = sum(free.get((w, part), 0) for w in warehouses)
            lines.append((part, need, need - best_van - in_warehouses))
        # The engine may find a part short that these sums do not (its pickups already promised
        # to other visits, a van out of reach): the visit is still listed, nothing held for it.
        short = [(p, m) for p, _, m in lines if m > 0] or [(p, need) for p, need, _ in lines]
        out += [{"work_order_id": wo_id, "part_id": p, "missing": m, "left_out": True} for p, m in short]
    return out


def plan_summary(loaded: Loaded, plan: dispatch.Plan | None) -> dict[str, Any]:
    if plan is None:
        return {
            "served": 0,
            "unassigned": len(loaded.versions),
            "engineers": 0,
            "skipped_engineers": {str(k): v for k, v in loaded.skipped_engineers.items()},
        }
    jobs = {j.id: j for j in plan.problem.jobs} if plan.problem else {}
    by_reason: dict[str, int] = {}
    for u in plan.unassigned:
        code = reasons.binding(loaded, jobs[u.job_id], u).reason if u.job_id in jobs else u.reason
        by_reason[code] = by_reason.get(code, 0) + 1
    moved_appointments = 0
    for route in plan.routes:
        for st in route.stops:
            job = jobs.get(st.id) if st.kind == "job" else None
            if job is not None and job.appointment is not None:
                a, b = job.appointment
                moved_appointments += not a <= st.start <= b
    return {
        "served": sum(len(r.job_ids) for r in plan.routes),
        "unassigned": len(plan.unassigned),
        "unassigned_by_reason": by_reason,
        "engineers": sum(1 for r in plan.routes if r.stops),
        "travel_km": round(plan.travel_m / 1000, 1),
        "lateness_s": plan.lateness_s,
        "overtime_s": plan.overtime_s,
        "objective": plan.objective,
        "appointments_missed": moved_appointments,
        "fixed_visits": len(loaded.fixed),
        "skipped_engineers": {str(k): v for k, v in loaded.skipped_engineers.items()},
        "estimated_travel": plan.estimated,
    }
