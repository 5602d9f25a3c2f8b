"""What if: the re-plan of a region's day if an engineer were absent (from a time on, until a time —
a late start —, between two — a gap —, or all day), or if an emergency were inserted — computed
and shown, never written.

The day is loaded as a plan run would load it (today: from now, frozen where visits started),
the engine input is changed in memory (the absence passed to `planning.load` as a recorded one
would be planned: the shift cut, its start moved, or a gap as a fixed break; or one more
priority-1 job at a place), and the day is re-planned from the published routes (today) or
planned afresh (another day) with a bounded search. The answer is what would change against the
published plan, with a token naming the input it was computed from (the run fingerprint and
the published run it started from).

`publish_absence` makes an absence preview real: it records the absence (its from and until
times of day, or the whole day) and, when the day still loads to the previewed input, solves it the same way
and publishes through the guarded publish (version checks, reservations, notifications). When
the input changed since the preview (a check-in, new work, another publish), the preview is
stale: the absence is recorded all the same and the day is re-planned from the new state rather
than publishing what the dispatcher saw.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.desk.tickets import queue as ticket_queue
from app.field.engineers import day_part
from app.field.engineers import service as engineers
from app.field.workorders import risk
from app.field.workorders import service as workorders
from app.models import (
    Absence,
    Asset,
    Engineer,
    PlanRun,
    PlanRunStatus,
    Region,
    Site,
    Ticket,
    TicketStatus,
    User,
    WorkOrder,
    WorkOrderStatus,
)
from app.planning import held, proposals, reasons, room, triggers
from app.planning import keys as plan_keys
from app.planning import publish as plan_publish
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Conflict, Unprocessable

EMERGENCY_KEY = "WO0"  # no work order has id 0: the inserted emergency's engine key
SOLUTION_LIMIT = 200


@dataclass(frozen=True)
class Emergency:
    latitude_deg: float
    longitude_deg: float
    duration_min: int = 60
    skill: str = ""
    # The ticket's arrival due time, which the visit opened for it takes (workorders.create_work_order):
    # the preview plans by it as the published plan will. None: a place without a ticket, or a
    # ticket whose engineer already arrived (its SLA is settled).
    arrival_due_at: datetime | None = None


def emergency_due(ticket: Ticket) -> datetime | None:
    """The arrival due time the emergency's visit will plan by (planning.inputs.arrival_settled)."""
    return ticket.arrival_due_at if ticket.arrived_at is None else None


def ticket_site(session: Session, region_id: int, number: str) -> tuple[Ticket, Site]:
    """An open ticket of the region and the site its emergency visit goes to. The number is taken
    as people type it ("T-0001071", "t-1071", "1071"): each spelling names one ticket."""
    ticket = ticket_queue.find_ticket(session, number)
    if ticket is None:
        canonical = ticket_queue.ticket_number(number)
        _refuse(
            "ticket",
            f"there is no ticket {canonical}"
            if canonical
            else f"there is no ticket “{number.strip()}”: give its number, e.g. T-0001071 or 1071",
        )
    assert ticket is not None
    if ticket.status in (TicketStatus.resolved, TicketStatus.closed):
        _refuse("ticket", f"ticket {ticket.number} is {ticket.status}; reopen it first")
    asset = session.get(Asset, ticket.asset_id) if ticket.asset_id is not None else None
    site_id = asset.site_id if asset is not None else ticket.site_id
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None or site.region_id != region_id:
        _refuse("ticket", f"ticket {ticket.number} has no site in this region")
    assert site is not None
    return ticket, site


def _refuse(field: str, message: str) -> None:
    raise Unprocessable(message, errors=[{"field": field, "message": message}])


def _stale(field: str, message: str) -> None:
    """The preview no longer holds (the day changed since): 409, naming the field it concerns."""
    raise Conflict(message, errors=[{"field": field, "message": message}])


def day_over(region: Region, day: date) -> str | None:
    """Why a what-if of `day` can never be made real (the day is over in the region), or None."""
    if day < plan_keys.local_day(utcnow(), region.timezone):
        return f"{day:%a %d %b %Y} is over, so its plan is not changed any more"
    return None


def _not_yet_published(session: Session, region: Region, day: date, preview_key: str) -> None:
    """Refuse a preview that cannot be made real any more: its day is over, or it was made real
    already (the publish button pressed twice, or the same page posted again). The day's plan
    row is locked first, so two submits of one preview at the same moment are taken one after
    the other and the second finds the first's run."""
    over = day_over(region, day)
    if over:
        _stale("day", over)
    plan_publish.lock_plan_day(session, region.id, day)
    if not preview_key:
        return
    earlier = session.scalars(
        select(PlanRun)
        .where(
            PlanRun.region_id == region.id,
            PlanRun.day == day,
            PlanRun.trigger.in_(("whatif", "whatif_stale")),
        )
        .order_by(PlanRun.id)
    )
    for run in earlier:
        if (run.stats or {}).get("preview") == preview_key:
            _stale(
                "",
                f"this preview was already made real (plan run {run.id}): nothing was recorded or "
                "published twice",
            )


def _mark(run: PlanRun, preview_key: str) -> None:
    """The preview a run made real: a second submit of it is refused (_not_yet_published)."""
    if preview_key:
        run.stats = {**(run.stats or {}), "preview": preview_key}


# engineer id -> (from, until) of a what-if absence: instants, None open on that side (both: all day)
Away = dict[int, tuple[datetime | None, datetime | None]]


def _load(
    session: Session, region: Region, day: date, as_of: datetime | None, absent: Away
) -> planning.Loaded:
    return planning.load(
        session,
        region_id=region.id,
        day=day,
        as_of=as_of,
        settings=dispatch.Settings(workers=1, deterministic=True),
        solve_params={"what_if": SOLUTION_LIMIT},
        absent=absent,
        hold_hand_times=True,  # as the automatic re-plan it stands for
    )


def _token(loaded: planning.Loaded) -> str:
    """What the preview was computed from: the input's fingerprint and the published run the
    re-plan started from (a publish in between changes the starting routes, not the input)."""
    return f"{loaded.fingerprint}:{loaded.current_run_id or 0}"


def _solve(
    session: Session, loaded: planning.Loaded, problem: dispatch.Problem, new_jobs: list[dispatch.Job]
) -> dispatch.Plan:
    """The re-plan as a run would make it, kept visits' second solve included (`held.solve`):
    without it the preview drew stops over a visit kept at a time set by hand that the day cannot
    fit, which the published re-plan routes around."""
    limit = get_settings().replan_time_limit_s
    initial = plan_runs.previous_plan(session, loaded)
    present = {e.id for e in problem.engineers}
    if initial is not None:
        initial = replace(initial, routes=tuple(r for r in initial.routes if r.engineer_id in present))
    if initial is not None and not initial.routes:
        initial = None
    # The emergency is one more job of the problem (a re-plan inserts jobs its starting routes lack,
    # as it does `new_jobs`), so a second solve keeps it.
    problem = replace(problem, jobs=problem.jobs + tuple(new_jobs))

    def once(p: dispatch.Problem, start: dispatch.Plan | None) -> dispatch.Plan:
        if start is not None and loaded.as_of is not None:
            now_s = plan_keys.to_s_up(loaded.ref, loaded.as_of)
            return dispatch.replan(start, p, now=now_s, time_limit=limit, seed=0)
        return dispatch.solve(p, time_limit=limit, seed=0, solution_limit=SOLUTION_LIMIT)

    return held.solve(problem, {plan_keys.job_key(i) for i in loaded.held}, initial, once)


def _absent_engineer(session: Session, region: Region, engineer_id: int) -> Engineer:
    engineer = session.get(Engineer, engineer_id)
    if engineer is None or engineer.region_id != region.id:
        _refuse("engineer_id", "choose an engineer of this region")
    assert engineer is not None
    return engineer


def preview(
    session: Session,
    *,
    region_id: int,
    day: date,
    absent_engineer_id: int | None = None,
    absent_from: datetime | None = None,
    absent_until: datetime | None = None,
    emergency: Emergency | None = None,
) -> dict[str, Any]:
    """The re-plan if an engineer were absent — from `absent_from` (None: the day's start) until
    `absent_until` (None: the day's end) — and/or an emergency came in; nothing is written."""
    region = _region(session, region_id)
    over = day_over(region, day)
    if over:
        # said before planning: a preview of a past day offered a publish that is always refused
        _refuse("day", f"{over}: a what-if is for today or a later day")
    now = utcnow()
    as_of = now if plan_keys.local_day(now, region.timezone) == day else None
    what: list[str] = []
    absent: Away = {}
    if absent_engineer_id is not None:
        engineer = _absent_engineer(session, region, absent_engineer_id)
        from_time, until_time = _clock(region, day, absent_from, absent_until)
        before = _load(session, region, day, as_of, {})
        working = {plan_keys.key_id(e.id) for e in before.problem.engineers} if before.problem else set()
        if engineer.id not in working:
            why = before.skipped_engineers.get(engineer.id, "not on a shift")
            _refuse("engineer_id", f"{engineer.name} does not work that day ({why})")
        # as the recorded absence will be planned (a start at or before the day's is none: from its start)
        absent[engineer.id] = (absent_from if from_time is not None else None, absent_until)
        # "absent all day", "absent from 13:00", "absent until 10:30", "absent 13:00–15:00"
        what.append(f"{engineer.name} were absent {day_part.text(from_time, until_time) or 'all day'}")
    loaded = _load(session, region, day, as_of, absent)
    if loaded.problem is None:
        _refuse("day", f"nobody works in {region.code} on {day.isoformat()} (after the what-if)")
    assert loaded.problem is not None
    problem = loaded.problem
    new_jobs: list[dispatch.Job] = []
    if emergency is not None:
        new_jobs.append(
            dispatch.Job(
                id=EMERGENCY_KEY,
                location=(emergency.latitude_deg, emergency.longitude_deg),
                duration_s=emergency.duration_min * 60,
                skills=frozenset({emergency.skill} if emergency.skill else ()),
                priority=1,
                sla_deadline=None
                if emergency.arrival_due_at is None
                else max(
                    plan_keys.to_s(loaded.ref, emergency.arrival_due_at),
                    planning.horizon_s(loaded.ref, loaded.as_of, problem.engineers),
                ),
                on_call_ok=True,
            )
        )
        what.append("an emergency came in")
    plan = _solve(session, loaded, problem, new_jobs)
    emergency_at: dict[str, Any] | None = None
    for route in plan.routes:
        for st in route.stops:
            if st.id == EMERGENCY_KEY:
                emergency_at = {
                    "engineer_id": plan_keys.key_id(route.engineer_id),
                    "on_call": plan_keys.cover_of(route.engineer_id) is not None,
                    "start": plan_keys.from_s(loaded.ref, st.start),
                }
    left = next((u for u in plan.unassigned if u.job_id == EMERGENCY_KEY), None)
    changes = proposals.changes(session, loaded, plan)
    # A visit of a later day offered to this one (at risk there) and not taken stays on its own day:
    # not "left out" here (the preview counted Tuesday's visit in Monday's left-out list).
    stays = {plan_keys.job_key(i) for i in loaded.pulled}
    # A visit kept at a time set by hand that the day cannot fit is not left out either: the
    # publish keeps it as a stop where it stands, marked at risk (`publish._held_stop`).
    stays |= {plan_keys.job_key(i) for i in loaded.held}
    unassigned = [u for u in plan.unassigned if u.job_id != EMERGENCY_KEY and u.job_id not in stays]
    left_out = [plan_keys.key_id(u.job_id) for u in unassigned]
    kept_unfit = [u for u in plan.unassigned if plan_keys.key_id(u.job_id) in loaded.held]
    numbers = dict(
        session.execute(
            select(WorkOrder.id, WorkOrder.number).where(
                WorkOrder.id.in_(left_out + sorted(loaded.held) or [-1])
            )
        )
        .tuples()
        .all()
    )
    names = reasons.engineer_names(session, region.id)
    jobs = {j.id: j for j in (*problem.jobs, *new_jobs)}  # the emergency's reason is worded too

    def kept_why(u: dispatch.Unassigned) -> str:
        # the at-risk mark the publish gives it (`publish._risks`), word for word
        why = reasons.left_out(loaded, jobs.get(u.job_id), u, names).reason.replace("_", " ")
        return risk.kept_reason(loaded.held[plan_keys.key_id(u.job_id)][1], why, loaded.tz)

    held_numbers = {i: numbers.get(i) or f"visit {i}" for i in loaded.held}

    def left_why(u: dispatch.Unassigned) -> str:
        # worded as the publish stores it and Assign refuses (an absence, kept visits named there)
        said = room.left_out(loaded, plan, jobs.get(u.job_id), u, names, held_numbers)
        return said.detail or said.reason

    return {
        "what": what,
        "served": sum(len(r.job_ids) for r in plan.routes) - (1 if emergency_at else 0),
        "unassigned": sorted(numbers.get(i) or str(i) for i in left_out),
        "travel_km": round(plan.travel_m / 1000, 1),
        "lateness_min": plan.lateness_s // 60,
        "changes": changes,
        "emergency": emergency_at,
        # the re-planned visits: work order id -> (engineer id, start, end), what publishing it
        # writes (PlanStop) when the day has not changed since
        "visits": {
            plan_keys.key_id(st.id): (
                plan_keys.key_id(route.engineer_id),
                plan_keys.from_s(loaded.ref, st.start),
                plan_keys.from_s(loaded.ref, st.end),
            )
            for route in plan.routes
            for st in route.stops
            if st.kind == "job" and st.id != EMERGENCY_KEY
        },
        "emergency_left": left_why(left) if left else None,
        # what publishing needs to find the same input again (absence only: an inserted
        # emergency has no work order yet)
        "token": _token(loaded),
        "as_of": as_of,
        # in the names a dispatcher knows: "E1~oc16.0 has the skills …" was the engine's key
        "reasons": {numbers.get(plan_keys.key_id(u.job_id)) or u.job_id: left_why(u) for u in unassigned},
        # kept where a dispatcher set them, though the day cannot fit them there: stops of the
        # re-plan, at risk (not left out, not dropped)
        "kept": {numbers.get(plan_keys.key_id(u.job_id)) or u.job_id: kept_why(u) for u in kept_unfit},
    }


def _clock(
    region: Region, day: date, absent_from: datetime | None, absent_until: datetime | None
) -> tuple[time | None, time | None]:
    """The absence's from_time and until_time as it is recorded (the region's clock; a start at
    or before the day's start is none), refused as `engineers.add_absence` refuses them."""
    tz = ZoneInfo(region.timezone)
    start = plan_keys.day_reference(day, region.timezone)
    from_time = None if absent_from is None or absent_from <= start else absent_from.astimezone(tz).time()
    until_time = None if absent_until is None else absent_until.astimezone(tz).time()
    if problem := day_part.order_problem(from_time, until_time):
        _refuse("absent_until", problem)
    return from_time, until_time


def _region(session: Session, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        _refuse("region", f"region {region_id} does not exist")
    assert region is not None
    return region


@dataclass(frozen=True)
class Published:
    run: PlanRun  # published, or (stale preview) the queued re-plan
    stale: bool


def publish_absence(
    session: Session,
    *,
    region_id: int,
    day: date,
    engineer_id: int,
    absent_from: datetime | None,
    as_of: datetime | None,
    absent_until: datetime | None = None,
    token: str,
    reason: str,
    actor: User | None,
    preview_key: str = "",
) -> Published:
    """Record the absence and publish the previewed re-plan (or re-plan, if the preview is stale).

    Refused with a 409 (nothing written) when the preview cannot be made real any more: its day
    is over, it was made real already, the engineer was deactivated or has an absence that day
    since (another dispatcher's)."""
    region = _region(session, region_id)
    engineer = _absent_engineer(session, region, engineer_id)
    from_time, until_time = _clock(region, day, absent_from, absent_until)
    _not_yet_published(session, region, day, preview_key)
    if not engineer.active:
        _stale("engineer_id", f"{engineer.name} was deactivated after the preview")
    recorded = session.scalar(select(Absence).where(Absence.engineer_id == engineer.id, Absence.day == day))
    if recorded is not None:
        since = day_part.text(recorded.from_time, recorded.until_time) or "all day"
        _stale(
            "engineer_id",
            f"{engineer.name} is already recorded absent that day ({recorded.reason}, {since}); "
            "to change it, remove that absence on the engineer's page first",
        )
    absence = engineers.add_absence(
        session,
        engineer=engineer,
        day=day,
        reason=reason,
        actor=actor,
        from_time=from_time,
        until_time=until_time,
    )
    # The absence's own trigger would queue one more re-plan at commit: this run answers it.
    key = triggers.request_key("sickness", region.id, day, triggers.absence_ref(absence))
    loaded = _load(session, region, day, as_of, {})
    if _token(loaded) != token:
        run = plan_runs.create_run(
            session,
            region_id=region.id,
            day=day,
            kind="replan" if loaded.current_run_id else "plan",
            trigger="whatif_stale",
            trigger_ref=str(engineer.id),
            requested_by=actor,
            request_key=key,
        )
        _mark(run, preview_key)
        return Published(run, stale=True)
    return _publish_now(session, loaded, key, str(engineer.id), as_of, actor, preview_key)


def publish_emergency(
    session: Session,
    *,
    region_id: int,
    day: date,
    ticket_number: str,
    emergency: Emergency,
    as_of: datetime | None,
    token: str,
    actor: User | None,
    preview_key: str = "",
    previewed_at: datetime | None = None,
) -> Published:
    """Open the emergency's visit (priority 1) on the ticket and publish the re-plan with it; when
    the day's input changed since the preview, re-plan from the new state instead.

    Refused with a 409 (nothing written) when the preview cannot be made real any more: its day
    is over, it was made real already, the ticket was closed or got a visit after the preview
    (another dispatcher answered the same emergency)."""
    region = _region(session, region_id)
    found = ticket_queue.find_ticket(session, ticket_number)
    if found is not None and found.status in (TicketStatus.resolved, TicketStatus.closed):
        _stale("ticket", f"ticket {found.number} was {found.status} meanwhile; reopen it first")
    ticket, _site = ticket_site(session, region.id, ticket_number)
    _not_yet_published(session, region, day, preview_key)
    if previewed_at is not None:
        newer = session.scalar(
            select(WorkOrder)
            .where(
                WorkOrder.ticket_id == ticket.id,
                WorkOrder.created_at >= previewed_at,
                WorkOrder.status.not_in(
                    (
                        WorkOrderStatus.cancelled.value,
                        WorkOrderStatus.done.value,
                        WorkOrderStatus.needs_follow_up.value,
                    )
                ),
            )
            .order_by(WorkOrder.id)
            .limit(1)
        )
        if newer is not None:
            at = _local(newer.created_at, region.timezone)
            _stale(
                "ticket",
                f"ticket {ticket.number} got visit {newer.number} at {at}, after the preview; no second "
                "visit was opened",
            )
    # The preview's token is the day without the emergency: compare before adding it.
    stale = _token(_load(session, region, day, as_of, {})) != token
    visit = workorders.create_work_order(
        session,
        ticket_id=ticket.id,
        actor=actor,
        required_skills=[emergency.skill] if emergency.skill else [],
        duration_min=emergency.duration_min,
    )
    visit.priority = "P1"  # an emergency, whatever the ticket said so far
    # Its own `emergency` trigger asks for the previewed day (answered by the run below), not for
    # today: the visit has no appointment, and a plan of today is not what was previewed.
    triggers.plan_on(visit, day)
    session.flush()
    # The new P1's own `emergency` trigger would queue a re-plan at commit: this run answers it.
    key = triggers.request_key("emergency", region.id, day, str(visit.id))
    if stale:
        run = plan_runs.create_run(
            session,
            region_id=region.id,
            day=day,
            kind="replan" if _has_plan(session, region.id, day) else "plan",
            trigger="whatif_stale",
            trigger_ref=str(visit.id),
            requested_by=actor,
            request_key=key,
        )
        _mark(run, preview_key)
        return Published(run, stale=True)
    loaded = _load(session, region, day, as_of, {})
    return _publish_now(session, loaded, key, str(visit.id), as_of, actor, preview_key)


def _local(at: datetime, timezone: str) -> str:
    return at.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def _has_plan(session: Session, region_id: int, day: date) -> bool:
    return plan_runs.published_run(session, region_id, day) is not None


def _publish_now(
    session: Session,
    loaded: planning.Loaded,
    key: str,
    ref: str,
    as_of: datetime | None,
    actor: User | None,
    preview_key: str,
) -> Published:
    run = plan_runs.create_run(
        session,
        region_id=loaded.region_id,
        day=loaded.day,
        kind="replan",
        trigger="whatif",
        trigger_ref=ref,
        requested_by=actor,
        request_key=key,
        send=False,
    )
    _mark(run, preview_key)
    run.status, run.started_at = PlanRunStatus.running.value, utcnow()
    run.as_of, run.fingerprint = as_of, loaded.fingerprint
    problem = loaded.problem
    plan = _solve(session, loaded, problem, []) if problem is not None and problem.jobs else None
    status = plan_publish.publish(session, run_id=run.id, loaded=loaded, plan=plan)
    if status != PlanRunStatus.published:
        retry = plan_runs.retry_after_conflict(session, run) if status == PlanRunStatus.conflict else None
        return Published(retry or run, stale=True)
    return Published(run, stale=False)
