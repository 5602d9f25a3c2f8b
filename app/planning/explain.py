"""Why a visit is where it is in the published plan (or nowhere): the engine's reasons.

The published routes are rebuilt as an engine `Plan` on the day's current input and handed to
`dispatch.explain` (alternatives and their extra cost). What the run stored at publish time —
the engine's reason for a visit left out, the stop's times, the parts held — answers the rest.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import (
    Engineer,
    Part,
    PlanDay,
    PlanRun,
    PlanStop,
    PlanUnassigned,
    ReservationStatus,
    StockLocation,
    StockReservation,
    Warehouse,
    WorkOrder,
)
from app.planning import keys as plan_keys
from app.planning import reasons
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.planning.schemas import AlternativeRead, CandidateRead, ExplanationRead

log = logging.getLogger(__name__)
REASONS = {
    "no_skill": "no engineer working that day has every required skill",
    "no_part": "the parts are in no van of a capable engineer and in no warehouse of the region",
    # the engine's code for any visit no capable engineer can fit into their shift (travel there,
    # its duration, home), with a time window or without: the detail says which (reasons._no_time)
    "window_unreachable": "no capable engineer can fit it into their working time",
    "no_capacity": "it fits on its own, but the day is full of more valuable work",
    "off_shift": "the engineers with the skills are off shift (or not on call for it) at that time",
    "cancelled": "it was cancelled",
}


def explain(session: Session, work_order: WorkOrder) -> ExplanationRead:
    tz = planning.get_region(session, work_order.region_id).timezone
    day = _plan_day(session, work_order, tz)
    run = plan_runs.published_run(session, work_order.region_id, day)
    base = ExplanationRead(
        work_order_id=work_order.id,
        plan_run_id=run.id if run else None,
        engineer_id=work_order.engineer_id,
        status=work_order.status,
        reason=f"no plan is published for {day.isoformat()} in this region",
        skills=list(work_order.required_skills or []),
    )
    if run is None:
        return base
    stop = session.scalar(
        select(PlanStop).where(PlanStop.plan_run_id == run.id, PlanStop.work_order_id == work_order.id)
    )
    if stop is None:
        left = session.scalar(
            select(PlanUnassigned).where(
                PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == work_order.id
            )
        )
        if left is None:
            base.reason = f"it was not part of plan run {run.id} (created or changed after it)"
            return base
        base.unassigned_reason = left.reason
        # the stored reason as it is (it names a part-day absence that left the visit out)
        base.reason = f"left out: {REASONS.get(left.reason, left.reason)}" + (
            f" ({left.detail})" if left.detail else ""
        )
        try:
            _candidates(session, run.id, work_order, day, base)
        except Exception:  # an explanation must not fail the page; say what we know
            log.exception("explain candidates for work order %s failed", work_order.id)
        return base
    engineer = session.get(Engineer, stop.engineer_id)
    name = engineer.name if engineer else f"engineer {stop.engineer_id}"
    local = stop.start_at.astimezone(ZoneInfo(tz)).strftime("%H:%M")
    base.engineer_id = stop.engineer_id
    if stop.fixed:
        base.reason = f"{name} had already started it when the day was re-planned; started visits never move"
    elif stop.locked:
        base.reason = f"a dispatcher assigned it to {name}; the planner keeps it there (starts {local})"
    else:
        base.reason = f"{name} has the skills and the parts and reaches it at the lowest cost; starts {local}"
    if stop.late_s:
        base.reason += f", {stop.late_s // 60} min after its SLA deadline"
    _parts(session, work_order.id, base)
    try:
        _engine_reasons(session, run.id, work_order, day, base)
    except NotImplementedError:
        pass  # the engine's explain is not available in this build: stored reasons only
    except Exception:  # an explanation must not fail the page; say what we know
        log.exception("explain for work order %s failed", work_order.id)
    return base


def _plan_day(session: Session, work_order: WorkOrder, tz: str) -> date:
    """The day whose published plan holds the visit now.

    A published plan that serves it wins over one that left it out: a visit left out of an
    older plan for a later day (off shift on Saturday) and since planned on Thursday is
    explained from Thursday's run, as the board shows it. Among several, the day it is planned
    on (its planned start, else its appointment), else the most recently published run's day.
    Without any, its planned day.
    """
    from app.planning.assign import plan_day_of

    planned = plan_day_of(session, work_order, tz)
    for model in (PlanStop, PlanUnassigned):
        mentioned = session.execute(
            select(PlanDay.day, PlanDay.current_run_id)
            .join(model, model.plan_run_id == PlanDay.current_run_id)
            .where(PlanDay.region_id == work_order.region_id, model.work_order_id == work_order.id)
        ).all()
        if mentioned:
            days = {d for d, _ in mentioned}
            return planned if planned in days else max(mentioned, key=lambda r: r[1] or 0)[0]
    return planned


def _parts(session: Session, work_order_id: int, out: ExplanationRead) -> None:
    rows = session.execute(
        select(StockReservation, Part.sku, StockLocation.kind, Warehouse.name)
        .join(Part, Part.id == StockReservation.part_id)
        .join(StockLocation, StockLocation.id == StockReservation.location_id)
        .outerjoin(Warehouse, Warehouse.id == StockLocation.warehouse_id)
        .where(
            StockReservation.work_order_id == work_order_id,
            StockReservation.status == ReservationStatus.held.value,
        )
    ).all()
    for res, sku, kind, wh_name in rows:
        if kind == "warehouse":
            out.parts_picked_up[sku] = wh_name or ""
        else:
            out.parts_from_van[sku] = out.parts_from_van.get(sku, 0) + res.quantity


def _candidates(
    session: Session, run_id: int, work_order: WorkOrder, day: date, out: ExplanationRead
) -> None:
    """Each engineer of the region and the constraint that keeps them from the visit: the
    engine's finding for those working that day, the bridge's for those off duty."""
    # as the run saw the day (a re-plan during it: from its moment), so each engineer's finding
    # agrees with the reason the run stored: from the shift's start, an engineer with an empty
    # morning "could do it" though the re-plan came when too little of it was left
    run = session.get(PlanRun, run_id)
    loaded = planning.load(
        session,
        region_id=work_order.region_id,
        day=day,
        as_of=run.as_of if run else None,
        hold_hand_times=run is not None and run.kind == "replan",
    )
    names = dict(session.execute(select(Engineer.id, Engineer.name)).all())
    key = plan_keys.job_key(work_order.id)
    job = next((j for j in loaded.problem.jobs if j.id == key), None) if loaded.problem else None
    if loaded.problem is not None and job is not None:
        plan = _published_plan(session, run_id, loaded, unassigned=(dispatch.Unassigned(key, "no_capacity"),))
        found = next((x for x in dispatch.explain(plan, job_ids=[key]) if x.job_id == key), None)
        for c in found.candidates if found else ():
            eid = plan_keys.key_id(c.engineer_id)
            code, note = reasons.candidate(loaded, job, c)  # an absence named, as the stored reason does
            out.candidates.append(
                CandidateRead(
                    engineer_id=eid,
                    engineer_name=names.get(eid, ""),
                    on_call=plan_keys.cover_of(c.engineer_id) is not None,
                    constraint=code,
                    note=note,
                )
            )
    skills = job.skills if job is not None else frozenset(work_order.required_skills or ())
    for eid, name, code, note in reasons.candidates_off_duty(loaded, skills):
        out.candidates.append(CandidateRead(engineer_id=eid, engineer_name=name, constraint=code, note=note))


def _published_plan(
    session: Session, run_id: int, loaded: planning.Loaded, unassigned: tuple[dispatch.Unassigned, ...] = ()
) -> dispatch.Plan:
    """The published routes as an engine plan on the day's current input."""
    assert loaded.problem is not None
    jobs = {j.id for j in loaded.problem.jobs}
    routes: dict[str, list[dispatch.Stop]] = {}
    warehouses = {w.id for w in loaded.problem.warehouses}
    sku_of = {pid: key for key, pid in loaded.part_ids.items()}
    ref = loaded.ref
    for st in session.scalars(
        select(PlanStop)
        .where(PlanStop.plan_run_id == run_id, PlanStop.kind != "break")
        .order_by(PlanStop.seq)
    ):
        times = (
            plan_keys.to_s(ref, st.arrival_at),
            plan_keys.to_s(ref, st.start_at),
            plan_keys.to_s(ref, st.end_at),
        )
        if st.kind == "job":
            key = plan_keys.job_key(st.work_order_id or 0)
            if key in jobs:
                stop = dispatch.Stop("job", key, *times, late_s=st.late_s)
            else:
                continue
        else:
            key = plan_keys.warehouse_key(st.warehouse_id or 0)
            parts = {sku_of[int(p)]: q for p, q in st.parts.items() if int(p) in sku_of}
            if key not in warehouses or not parts:
                continue
            stop = dispatch.Stop("pickup", key, *times, parts)
        routes.setdefault(plan_keys.cover_key(st.engineer_id, st.cover), []).append(stop)
    engineers_in = {e.id for e in loaded.problem.engineers}
    # explain() re-reads travel from the plan's matrix (canonical row order of the engine).
    from dispatch.core import travel_matrix

    return dispatch.Plan(
        routes=tuple(dispatch.Route(e, tuple(s), 0, 0, 0, 0) for e, s in routes.items() if e in engineers_in),
        unassigned=unassigned,
        objective=0,
        unserved_weight=0,
        lateness_s=0,
        travel_m=0,
        problem=loaded.problem,
        matrix=travel_matrix(loaded.problem),
    )


def _engine_reasons(
    session: Session, run_id: int, work_order: WorkOrder, day: date, out: ExplanationRead
) -> None:
    """Alternatives from the engine, on the published routes and the day's current input as the
    run saw it (a re-plan during the day: from its moment). Loaded from the shift's start, an
    engineer whose shift was over by then "could take" an evening visit the run gave their
    on-call cover — and the call-out saved made it a negative cost."""
    run = session.get(PlanRun, run_id)
    loaded = planning.load(
        session,
        region_id=work_order.region_id,
        day=day,
        as_of=run.as_of if run else None,
        hold_hand_times=run is not None and run.kind == "replan",
    )
    if loaded.problem is None:
        return
    plan = _published_plan(session, run_id, loaded)
    key = plan_keys.job_key(work_order.id)
    # one person, one alternative: her shift and her on-call cover are two engine engineers
    found = next(
        (x for x in dispatch.explain(plan, job_ids=[key], person=plan_keys.key_id) if x.job_id == key),
        None,
    )
    if found is None:
        return
    names = dict(session.execute(select(Engineer.id, Engineer.name)).all())
    reason = found.reason or ""
    reason = reasons.readable(reason, names)  # engine keys (E12, E12~oc5.0, W3) → names
    for wid, wname in session.execute(select(Warehouse.id, Warehouse.name)).all():
        reason = re.sub(rf"\b{plan_keys.warehouse_key(wid)}\b", wname, reason)
    out.reason = reason or out.reason
    out.travel_added_m, out.slack_s = found.travel_added_m, found.slack_s
    wh_names = dict(session.execute(select(Warehouse.id, Warehouse.name)).all())
    for sku, where in (found.parts_picked_up or {}).items():
        out.parts_picked_up[sku] = (
            wh_names.get(plan_keys.key_id(where), where) if where.startswith("W") else where
        )
    # An engineer who cannot take the visit (skill, shift, absence, no slot in its window) is an
    # alternative without a cost: the engine's note says why not. The engineer it is with is no
    # alternative in any of their engine identities: her on-call cover (E12~oc5.0) read
    # "Instead Christina Mayer: not feasible — on call then" under "Why Christina Mayer".
    mine = out.engineer_id
    out.alternatives = [
        AlternativeRead(
            engineer_id=plan_keys.key_id(a.engineer_id),
            engineer_name=names.get(plan_keys.key_id(a.engineer_id), ""),
            on_call=plan_keys.cover_of(a.engineer_id) is not None,
            extra_cost=a.extra_cost,
            feasible=a.extra_cost is not None,
            note=reasons.readable(a.note, names),
        )
        for a in found.alternatives
        if plan_keys.key_id(a.engineer_id) != mine
    ]
