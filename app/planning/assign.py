"""A dispatcher puts a visit on an engineer's day: checked, previewed, then published.

The engineer's day is re-planned with the visit pinned to them (and weighted as an emergency,
so the engine drops other work before it). The answer names the consequences against the
published route: lateness and travel added, promised appointments that move, visits that no
longer fit, parts to pick up. Without `dry_run` the result is published as a `manual` plan
run carrying the other engineers' routes over unchanged, and the visit stays pinned to this
engineer in later runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.workorders import service as workorders
from app.models import (
    Engineer,
    Part,
    PlanRun,
    PlanRunStatus,
    StockLevel,
    StockLocation,
    User,
    Warehouse,
    WorkOrder,
    WorkOrderPart,
    WorkOrderStatus,
)
from app.planning import held, move_parts, reasons, room
from app.planning import inputs as plan_inputs
from app.planning import keys as plan_keys
from app.planning import publish as plan_publish
from app.planning import service as planning
from app.planning.schemas import AssignResult, DroppedVisit, MovedVisit, PartLine, PickupChange
from app.platform.db import utcnow
from app.platform.errors import Conflict, InvalidTransition, refuse

SOLVE_TIME_LIMIT_S = 2.0
SOLUTION_LIMIT = 200  # one engineer's day: a small, bounded search
MOVED_AFTER = timedelta(minutes=1)


def plan_day_of(session: Session, work_order: WorkOrder, tz: str) -> date:
    at = work_order.planned_start_at or work_order.appointment_start_at
    return plan_keys.local_day(at or utcnow(), tz)


def _check(session: Session, work_order: WorkOrder, engineer: Engineer, day: date) -> None:
    """Skills, shift and parts, before any planning: each problem named."""
    errors: list[dict[str, str]] = []
    if other_region := workorders.region_problem(session, engineer=engineer, work_order=work_order):
        errors.append(other_region)  # the regions named, as the work order's own schedule does
    if not engineer.active:
        errors.append({"field": "engineer_id", "message": f"{engineer.name} is inactive"})
    missing = sorted(set(work_order.required_skills or []) - set(engineer.skills or []))
    if missing:
        errors.append(
            {"field": "engineer_id", "message": f"{engineer.name} lacks skill(s) {', '.join(missing)}"}
        )
    shift = engineers.day_shift(session, engineer, day)
    if shift.absent:
        errors.append({"field": "date", "message": f"{engineer.name} is absent on {day.isoformat()}"})
    elif not shift.working:
        errors.append({"field": "date", "message": f"{engineer.name} has no shift on {day.isoformat()}"})
    elif shift.ends_at is not None and shift.ends_at <= utcnow():
        errors.append({"field": "date", "message": f"{engineer.name}'s shift on {day.isoformat()} is over"})
    errors += _part_problems(session, work_order, engineer)
    refuse(errors, fields_in_detail=False)


def _part_problems(session: Session, work_order: WorkOrder, engineer: Engineer) -> list[dict[str, str]]:
    needs = list(session.scalars(select(WorkOrderPart).where(WorkOrderPart.work_order_id == work_order.id)))
    if not needs:
        return []
    held: dict[tuple[int, int], int] = {}
    for r in reservations.held_for(session, [work_order.id]):
        held[(r.location_id, r.part_id)] = held.get((r.location_id, r.part_id), 0) + r.quantity
    locations = [
        loc
        for loc in session.scalars(
            select(StockLocation.id)
            .outerjoin(Warehouse, Warehouse.id == StockLocation.warehouse_id)
            .where((StockLocation.engineer_id == engineer.id) | (Warehouse.region_id == engineer.region_id))
        )
    ]
    errors = []
    for need in needs:
        best = 0
        for lv in session.scalars(
            select(StockLevel).where(
                StockLevel.part_id == need.part_id, StockLevel.location_id.in_(locations)
            )
        ):
            best = max(best, lv.quantity - lv.reserved + held.get((lv.location_id, lv.part_id), 0))
        if best < need.quantity:
            part = session.get(Part, need.part_id)
            errors.append(
                {
                    "field": "engineer_id",
                    "message": f"{need.quantity} × {part.sku if part else need.part_id} is free neither in "
                    f"{engineer.name}'s van nor in a warehouse of the region",
                }
            )
    return errors


def assign(
    session: Session,
    *,
    work_order: WorkOrder,
    engineer_id: int,
    day: date | None,
    dry_run: bool,
    actor: User | None,
) -> AssignResult:
    if work_order.status not in plan_inputs.PLANNABLE:
        raise InvalidTransition(
            f"Work order {work_order.number} is {work_order.status}; only unscheduled or scheduled "
            "visits can be assigned.",
            current=work_order.status,
        )
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        refuse(
            [{"field": "engineer_id", "message": f"engineer {engineer_id} does not exist"}],
            fields_in_detail=False,
        )
    assert engineer is not None
    tz = planning.get_region(session, work_order.region_id).timezone
    day = day or plan_day_of(session, work_order, tz)
    _check(session, work_order, engineer, day)

    now = utcnow()
    as_of = now if plan_keys.local_day(now, tz) == day else None
    theirs = _scheduled_with(session, engineer.id, day, tz, work_order.id)
    # the route the visit leaves (before anything is written): measured the same way
    left = _route_left(session, work_order, tz)
    loaded = planning.load(
        session,
        region_id=work_order.region_id,
        day=day,
        as_of=as_of,
        settings=dispatch.Settings(workers=1, deterministic=True),
        only_engineers={engineer.id},
        only_work_orders=theirs | {work_order.id},
        # Her visits set by hand keep their time, as in an automatic re-plan: before, Assign
        # re-timed them unreported and their pin became "pinned to …", the hand-set time lost.
        hold_hand_times=True,
        retime=frozenset({work_order.id}),
    )
    key = plan_keys.job_key(work_order.id)
    if loaded.problem is None or key not in {j.id for j in loaded.problem.jobs}:
        refuse(
            [{"field": "date", "message": f"the visit's time windows exclude {day.isoformat()}"}],
            fields_in_detail=False,
        )
    assert loaded.problem is not None
    eng_key = plan_keys.engineer_key(engineer.id)
    jobs = tuple(
        replace(j, pinned_engineer=eng_key, priority=1) if j.id == key else j for j in loaded.problem.jobs
    )
    problem = replace(loaded.problem, jobs=jobs)
    plan = held.solve(problem, {plan_keys.job_key(i) for i in loaded.held}, None, _solve_once)
    left_out = {u.job_id: u for u in plan.unassigned}
    jobs_by_id = {j.id: j for j in jobs}
    if key in left_out:
        # worded as the board, the what-if and the explanation word it (an absence that cut the
        # shift named; a day held only by visits kept by hand: the kept time and break, not "full")
        names = reasons.engineer_names(session, engineer.region_id)
        u = room.left_out(
            loaded, plan, jobs_by_id.get(key), left_out[key], names, _numbers(session, set(loaded.held))
        )
        refuse(
            [
                {
                    "field": "engineer_id",
                    "message": f"{engineer.name} cannot fit the visit: {u.detail or u.reason}",
                }
            ],
            fields_in_detail=False,
        )
    before = _day_without(plan, key)
    result = _consequences(session, loaded, plan, before, work_order, engineer, day, dry_run)
    if left is not None:
        result.from_engineer_id, result.from_travel_added_m, result.from_travel_added_s = left
    if dry_run:
        return result

    run = PlanRun(
        region_id=work_order.region_id,
        day=day,
        kind="manual",
        trigger="assign",
        trigger_ref=str(work_order.id),
        status=PlanRunStatus.running.value,
        fingerprint=loaded.fingerprint,
        attempts=1,
        time_limit_s=SOLVE_TIME_LIMIT_S,
        solution_limit=SOLUTION_LIMIT,
        as_of=as_of,
        requested_by_id=actor.id if actor else None,
        started_at=now,
        summary={"engineer_id": engineer.id, "work_order_id": work_order.id},
        stats={},
    )
    session.add(run)
    session.flush()
    carry = (
        plan_publish.CarryOver(loaded.current_run_id, {engineer.id}, {work_order.id})
        if loaded.current_run_id
        else None
    )
    status = plan_publish.publish(
        session, run_id=run.id, loaded=loaded, plan=plan, locked={work_order.id}, carry_over=carry
    )
    if status != PlanRunStatus.published:
        raise Conflict(f"The plan changed while assigning ({status}); reload and try again.")
    result.plan_run_id = run.id
    result.planned_start_at, result.eta = work_order.planned_start_at, work_order.eta_at
    return result


def _warehouse(session: Session, key: str | None) -> Warehouse | None:
    return session.get(Warehouse, plan_keys.key_id(key)) if key is not None else None


def _numbers(session: Session, ids: set[int]) -> dict[int, str]:
    rows = session.execute(select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(ids or {-1})))
    return {i: n or f"visit {i}" for i, n in rows.tuples()}


def _solve_once(problem: dispatch.Problem, _start: dispatch.Plan | None) -> dispatch.Plan:
    """One bounded solve of the engineer's day (`held.solve` calls it again with kept times blocked)."""
    return dispatch.solve(problem, time_limit=SOLVE_TIME_LIMIT_S, seed=0, solution_limit=SOLUTION_LIMIT)


def _scheduled_with(session: Session, engineer_id: int, day: date, tz: str, but: int) -> set[int]:
    """The engineer's scheduled visits of the day, but one."""
    ref, end = plan_keys.day_reference(day, tz), plan_keys.day_reference(day + timedelta(days=1), tz)
    return set(
        session.scalars(
            select(WorkOrder.id).where(
                WorkOrder.engineer_id == engineer_id,
                WorkOrder.status == WorkOrderStatus.scheduled,
                WorkOrder.planned_start_at >= ref,
                WorkOrder.planned_start_at < end,
                WorkOrder.id != but,
            )
        )
    )


def _travel(plan: dispatch.Plan) -> tuple[int, int]:
    """Metres and seconds of travel of a one-engineer plan (her shift and any on-call cover)."""
    return sum(r.travel_m for r in plan.routes), sum(r.travel_s for r in plan.routes)


def _route_left(session: Session, work_order: WorkOrder, tz: str) -> tuple[int, int, int] | None:
    """(engineer, metres, seconds): how the route of the engineer the visit is with now changes
    when it leaves it — her day as planned with it, then without it, timed alike. None: it is
    with nobody."""
    if work_order.engineer_id is None or work_order.planned_start_at is None:
        return None
    day = plan_keys.local_day(work_order.planned_start_at, tz)
    now = utcnow()
    loaded = planning.load(
        session,
        region_id=work_order.region_id,
        day=day,
        as_of=now if plan_keys.local_day(now, tz) == day else None,
        settings=dispatch.Settings(workers=1, deterministic=True),
        only_engineers={work_order.engineer_id},
        only_work_orders=_scheduled_with(session, work_order.engineer_id, day, tz, work_order.id)
        | {work_order.id},
    )
    key = plan_keys.job_key(work_order.id)
    if loaded.problem is None or key not in {j.id for j in loaded.problem.jobs}:
        return None
    eng_key = plan_keys.engineer_key(work_order.engineer_id)
    jobs = tuple(replace(j, pinned_engineer=eng_key) if j.id == key else j for j in loaded.problem.jobs)
    problem = replace(loaded.problem, jobs=jobs)
    with_it = dispatch.solve(problem, time_limit=SOLVE_TIME_LIMIT_S, seed=0, solution_limit=SOLUTION_LIMIT)
    if key in {u.job_id for u in with_it.unassigned}:
        return None  # her day cannot hold it any more: no route of hers to compare
    (m1, s1), (m0, s0) = _travel(with_it), _travel(_day_without(with_it, key))
    return work_order.engineer_id, m0 - m1, s0 - s1


def _day_without(plan: dispatch.Plan, key: str) -> dispatch.Plan:
    """The day before the move: the planned routes with the visit taken out (pickups only it
    needed trimmed), timed again by the engine — no search. The difference is measured against
    this, not the published route: a day without a plan has none (the preview counted her whole
    route, the visit she already had included, as added travel), a visit scheduled by hand is on
    no published route, and today's re-plan starts from now where the published route starts from
    home. So the travel added is what the visit adds to the route it gets, as the explanation
    says once the move is made."""
    from dispatch.core import compile_problem
    from dispatch.engine import routes_from_plan
    from dispatch.lns import trim_pickups
    from dispatch.schedule import make_plan

    assert plan.problem is not None and plan.matrix is not None
    c = compile_problem(plan.problem, matrix=plan.matrix)
    index = next(i for i, j in enumerate(plan.problem.jobs) if j.id == key)
    routes = [
        trim_pickups(c, k, [s for s in raw if s[:2] != ("job", index)])
        for k, raw in enumerate(routes_from_plan(c, plan))
    ]
    return make_plan(c, routes)


def _consequences(
    session: Session,
    loaded: planning.Loaded,
    plan: dispatch.Plan,
    before: dispatch.Plan,
    work_order: WorkOrder,
    engineer: Engineer,
    day: date,
    dry_run: bool,
) -> AssignResult:
    ref = loaded.ref
    route = plan.route_of(plan_keys.engineer_key(engineer.id))
    stops = route.stops if route else ()
    visits = {plan_keys.key_id(s.id): s for s in stops if s.kind == "job"}
    wos = {w.id: w for w in session.scalars(select(WorkOrder).where(WorkOrder.id.in_(list(loaded.versions))))}
    # A visit set by hand keeps its time (`loaded.held`) unless its start has passed; one that
    # moves all the same is listed as a promised time is: its customer was told that time.
    by_hand = set(plan_inputs.hand_pins(session, list(wos.values())))
    moved = []
    for wo_id, st in visits.items():
        w = wos[wo_id]
        if wo_id == work_order.id or (w.appointment_start_at is None and wo_id not in by_hand):
            continue
        new_start = plan_keys.from_s(ref, st.start)
        outside = w.appointment_start_at is not None and not (
            w.appointment_start_at <= new_start <= (w.appointment_end_at or new_start)
        )
        if outside or w.planned_start_at is None or abs(new_start - w.planned_start_at) > MOVED_AFTER:
            moved.append(
                MovedVisit(
                    work_order_id=wo_id,
                    number=w.number,
                    appointment_start_at=w.appointment_start_at,
                    appointment_end_at=w.appointment_end_at,
                    old_start_at=w.planned_start_at,
                    new_start_at=new_start,
                )
            )
    already = {u.job_id for u in before.unassigned}  # left out without the move too
    dropped = [
        DroppedVisit(
            work_order_id=plan_keys.key_id(u.job_id),
            number=wos[plan_keys.key_id(u.job_id)].number,
            reason=u.detail or u.reason,
        )
        for u in plan.unassigned
        # a visit kept at its hand-set time is not dropped: it stays there, at risk (`publish`)
        if u.job_id not in already and plan_keys.key_id(u.job_id) not in loaded.held
    ]
    sku_to_part = {
        p.sku: p for p in session.scalars(select(Part).where(Part.id.in_(list(loaded.part_ids.values()))))
    }
    eng_key, key = plan_keys.engineer_key(engineer.id), plan_keys.job_key(work_order.id)
    after = move_parts.sources(plan, eng_key)
    # the moved visit's parts only: the route's pickup stops also fetch her other visits' parts
    pickups = [
        PartLine.of(
            sku_to_part[s.sku],
            s.quantity,
            source="van" if s.warehouse is None else "warehouse",
            warehouse=_warehouse(session, s.warehouse),
            work_order_id=work_order.id,
        )
        for s in after.get(key, [])
    ]
    others = [
        PickupChange(
            **PartLine.of(
                sku_to_part[s.sku],
                s.quantity,
                source="warehouse",
                warehouse=_warehouse(session, s.warehouse),
                work_order_id=plan_keys.key_id(job),
            ).model_dump(),
            number=wos[plan_keys.key_id(job)].number if plan_keys.key_id(job) in wos else None,
            added=added,
        )
        for job, s, added in move_parts.pickups_changed(move_parts.sources(before, eng_key), after, but=key)
    ]
    me = visits[work_order.id]
    late_now, late_before = (sum(s.late_s for r in p.routes for s in r.stops) for p in (plan, before))
    return AssignResult(
        dry_run=dry_run,
        work_order_id=work_order.id,
        engineer_id=engineer.id,
        date=day,
        planned_start_at=plan_keys.from_s(ref, me.start),
        eta=plan_keys.from_s(ref, me.arrival),
        lateness_added_s=late_now - late_before,
        travel_added_m=_travel(plan)[0] - _travel(before)[0],
        travel_added_s=_travel(plan)[1] - _travel(before)[1],
        appointments_moved=moved,
        visits_dropped=dropped,
        parts_to_pick_up=pickups,
        other_pickups_changed=others,
    )
