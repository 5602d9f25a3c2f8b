"""The one bridge between the database and the dispatch engine: rows → `dispatch.Problem`.

`load` reads a region's day (open work orders, shifts, positions, van and warehouse stock,
promised appointments) into a `Loaded` snapshot of plain data that outlives the session, so the
solve runs outside any transaction. `app.planning.publish` maps the engine's `Plan` back.

Times: the engine counts integer seconds from local midnight of the plan day in the region's
time zone (`ref`, stored as UTC). Wall-clock times are converted through the zone for that very
date, so shifts on a 23- or 25-hour DST day land on the right UTC instant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.field.engineers import day_part
from app.models import (
    Engineer,
    Part,
    PlanDay,
    Region,
    Shift,
    Site,
    StockLocation,
    Warehouse,
    WorkOrder,
)
from app.planning import inputs as plan_inputs
from app.planning.inputs import PLANNABLE, FixedVisit
from app.planning.keys import (
    cover_key,
    day_reference,
    engineer_key,
    fingerprint,
    job_key,
    key_id,
    local_at,
    to_s,
    to_s_up,
    warehouse_key,
)
from app.platform.config import get_settings
from app.platform.errors import NotFound

# A break may start this long before or after the shift's planned break start.
BREAK_SLACK = timedelta(minutes=30)


# --------------------------------------------------------------------------------------- snapshot
@dataclass
class Loaded:
    """Everything a run needs after the loading transaction has closed."""

    region_id: int
    day: date
    tz: str
    ref: datetime
    as_of: datetime | None
    problem: dispatch.Problem | None  # None: nobody works that day
    versions: dict[int, int]  # work order id -> version when loaded (jobs of the problem)
    part_ids: dict[str, int]  # engine part key -> part id
    van_location: dict[int, int]  # engineer id -> stock location id
    warehouse_location: dict[int, int]  # warehouse id -> stock location id
    fixed: list[FixedVisit] = field(default_factory=list)
    locked: set[int] = field(default_factory=set)  # work orders pinned to their engineer
    # Work orders a dispatcher scheduled by hand, kept at that engineer and start by an automatic
    # re-plan (`hold_hand_times`): id -> (engineer id, start). The publish never moves them.
    held: dict[int, tuple[int, datetime]] = field(default_factory=dict)
    skipped_engineers: dict[int, str] = field(default_factory=dict)  # engineer id -> why not planned
    skipped_skills: dict[int, tuple[str, frozenset[str]]] = field(default_factory=dict)  # id -> name, skills
    # At-risk visits scheduled on a later day, offered to this day: left out, they keep that slot.
    pulled: set[int] = field(default_factory=set)
    # Work orders whose ticket's arrival is recorded: no arrival due time (inputs.arrival_settled).
    arrival_settled: set[int] = field(default_factory=set)
    fingerprint: str = ""
    current_run_id: int | None = None
    # Engineers away for part of their shift (recorded, or the what-if's): id -> (from, to); going
    # home early, to the shift's end. The engine sees only a shorter shift (or a break for a gap);
    # the reason stored for a visit it leaves out names the absence from these (reasons.left_out).
    absences: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)

    @property
    def day_end(self) -> datetime:
        return day_reference(self.day + timedelta(days=1), self.tz)


def get_region(session: Session, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(f"Region {region_id} does not exist.")
    return region


def current_plan_day(session: Session, region_id: int, day: date) -> PlanDay | None:
    return session.scalar(select(PlanDay).where(PlanDay.region_id == region_id, PlanDay.day == day))


@dataclass(frozen=True)
class DayFrame:
    """The region's day: its zone, local midnight (`ref`) and the end of the day, both in UTC."""

    region: Region
    tz: str
    ref: datetime
    day_end: datetime
    current_run_id: int | None


@dataclass(frozen=True)
class WorkOrderInputs:
    """The day's work orders split into plannable and started ones, with what planning needs of them."""

    plannable: list[WorkOrder]
    started: list[WorkOrder]
    locked: set[int]
    windows: dict[int, list[tuple[datetime, datetime]]]
    parts_needed: dict[int, dict[int, int]]  # work order id -> part id -> quantity
    part_ids: dict[str, int]  # engine part key (sku) -> part id
    sku: dict[int, str]
    sites: dict[int, Site]
    # On-call cover is for P1s, and for 24x7 contracts whose visit is due before the day ends
    # (waiting for the next shift would miss it): docs/planning.md.
    round_the_clock: set[int]
    arrival_settled: set[int]  # their ticket's arrival is recorded: no arrival due time to plan for
    held: dict[int, tuple[int, datetime]]  # scheduled by hand: id -> (engineer id, start) to keep


@dataclass(frozen=True)
class EngineerInputs:
    """Who works that day (with the shift), who does not and why, and where their stock is."""

    engineers: list[tuple[Engineer, Shift]]
    skipped: dict[int, str]
    shift_times: dict[int, tuple[datetime, datetime]]  # engineer id -> that day's shift start and end
    covers: list[plan_inputs.Cover]  # on-call cover outside the shifts
    # Engineers absent from a time of day: their shift (and cover) ends there; visits done or
    # started before stay as they are (frozen), the rest may go to others.
    stops_at: dict[int, datetime]
    # Engineers absent for part of the day as recorded (from 13:00 on, until 10:30, 13:00–15:00):
    # id -> that stretch, open ends as the day's start or end. A late start moves the shift's
    # start, a gap inside the shift is a break fixed at its time (`_engine_engineers`).
    part_absences: dict[int, tuple[datetime, datetime]]
    # Those who are away during their shift, for the reasons: id -> (from, to); to going home
    # early (`stops_at`), the shift's uncut end.
    absences: dict[int, tuple[datetime, datetime]]
    van_location: dict[int, int]
    warehouses: list[Warehouse]
    warehouse_location: dict[int, int]


def load(
    session: Session,
    *,
    region_id: int,
    day: date,
    as_of: datetime | None = None,
    settings: dispatch.Settings | None = None,
    solve_params: dict[str, Any] | None = None,
    only_engineers: set[int] | None = None,
    only_work_orders: set[int] | None = None,
    absent: Mapping[int, tuple[datetime | None, datetime | None]] | None = None,
    hold_hand_times: bool = False,
    retime: frozenset[int] = frozenset(),
) -> Loaded:
    """Snapshot the region's day as an engine problem. With `as_of` (a re-plan during the day)
    started and finished visits are frozen and engineers start where they are at that moment.

    `only_engineers` / `only_work_orders` cut out part of the day (a manual assignment re-plans
    one engineer's visits); listed work orders are taken whatever day they were planned on.
    `absent` (engineer id -> (from, until), instants; None: open on that side, both None: the
    whole day) adds absences that are not recorded (the what-if), in the shape of a recorded
    one's from_time/until_time: the day loads exactly as it will once that absence is recorded.

    `hold_hand_times` (automatic re-plans, `kind == "replan"`): a visit standing where a dispatcher
    scheduled it by hand keeps its engineer and start, a stop fixed in time the others are routed
    around (docs/planning.md, "Pinned times"). A day plan a dispatcher asks for re-times it.
    `retime`: visits the caller places itself and so never holds (the visit Assign moves)."""
    frame = _day_frame(session, region_id, day)
    wo = _work_order_inputs(session, frame, as_of, only_engineers, only_work_orders, hold_hand_times)
    if retime & set(wo.held):
        wo = replace(wo, held={i: keep for i, keep in wo.held.items() if i not in retime})
    eng = _engineer_inputs(session, frame, day, only_engineers, absent or {})
    job_ids = {w.id for w in wo.plannable}
    stock = plan_inputs.available_stock(
        session, list(eng.van_location.values()) + list(eng.warehouse_location.values()), job_ids, wo.sku
    )

    fixed: list[FixedVisit] = []
    starts: dict[int, tuple[tuple[float, float], datetime]] = {}
    if as_of is not None:
        # On-call engineers without a shift that day are placed (where they are free) too.
        everyone: list[tuple[Engineer, Shift | None]] = [*eng.engineers]
        everyone += [(c.engineer, None) for c in eng.covers if c.engineer.id not in eng.shift_times]
        fixed, starts = plan_inputs.frozen_day(session, wo.started, wo.sites, everyone, as_of)

    eng_rows = _engine_engineers(frame, day, eng, starts, stock)
    jobs, versions, held = _engine_jobs(frame, wo, as_of, eng_rows, eng.stops_at)
    wh_rows = _engine_warehouses(frame, day, eng, stock)
    problem = None  # the engine needs someone to plan for: without engineers every job stays open
    if eng_rows:
        problem = dispatch.Problem(
            engineers=tuple(eng_rows),
            jobs=tuple(jobs),
            warehouses=tuple(wh_rows),
            settings=settings or dispatch.Settings(),
            name=f"{frame.region.code} {day.isoformat()}",
        )
    loaded = Loaded(
        region_id=region_id,
        day=day,
        tz=frame.tz,
        ref=frame.ref,
        as_of=as_of,
        problem=problem,
        versions=versions,
        part_ids=wo.part_ids,
        van_location=eng.van_location,
        warehouse_location=eng.warehouse_location,
        fixed=fixed,
        locked={w for w in wo.locked if w in versions} | set(held),
        held=held,
        skipped_engineers=eng.skipped,
        skipped_skills=_skipped_skills(session, eng.skipped),
        current_run_id=frame.current_run_id,
        pulled={
            w.id for w in wo.plannable if w.id in versions and plan_inputs.pull_forward(w, frame.day_end)
        },
        arrival_settled=wo.arrival_settled,
        absences=eng.absences,
    )
    loaded.fingerprint = fingerprint(loaded, jobs, solve_params or {})
    return loaded


def _day_frame(session: Session, region_id: int, day: date) -> DayFrame:
    region = get_region(session, region_id)
    tz = region.timezone
    ref = day_reference(day, tz)
    day_end = day_reference(day + timedelta(days=1), tz)
    plan_day = current_plan_day(session, region_id, day)
    current_run_id = plan_day.current_run_id if plan_day else None
    return DayFrame(region=region, tz=tz, ref=ref, day_end=day_end, current_run_id=current_run_id)


def _work_order_inputs(
    session: Session,
    frame: DayFrame,
    as_of: datetime | None,
    only_engineers: set[int] | None,
    only_work_orders: set[int] | None,
    hold_hand_times: bool = False,
) -> WorkOrderInputs:
    region_id, ref, day_end, current_run_id = frame.region.id, frame.ref, frame.day_end, frame.current_run_id
    work_orders = plan_inputs.day_work_orders(session, region_id, ref, day_end, as_of, only_work_orders)
    if only_engineers is not None:
        work_orders = [w for w in work_orders if w.status in PLANNABLE or w.engineer_id in only_engineers]
    plannable = [w for w in work_orders if w.status in PLANNABLE]
    started = [w for w in work_orders if w.status not in PLANNABLE]
    locked = plan_inputs.locked(session, current_run_id, [w.id for w in plannable if w.engineer_id])
    windows = plan_inputs.windows(session, [w.id for w in plannable])
    parts_needed = plan_inputs.parts(session, [w.id for w in plannable])
    part_ids = dict(
        session.execute(
            select(Part.sku, Part.id).where(Part.id.in_({p for need in parts_needed.values() for p in need}))
        ).all()
    )
    sku = {pid: s for s, pid in part_ids.items()}
    sites = {
        s.id: s for s in session.scalars(select(Site).where(Site.id.in_({w.site_id for w in work_orders})))
    }
    return WorkOrderInputs(
        plannable=plannable,
        started=started,
        locked=locked,
        windows=windows,
        parts_needed=parts_needed,
        part_ids=part_ids,
        sku=sku,
        sites=sites,
        round_the_clock=plan_inputs.always_open(session, plannable),
        arrival_settled=plan_inputs.arrival_settled(session, plannable),
        held=plan_inputs.hand_timed(session, plannable) if hold_hand_times else {},
    )


def _engineer_inputs(
    session: Session,
    frame: DayFrame,
    day: date,
    only_engineers: set[int] | None,
    what_if: Mapping[int, tuple[datetime | None, datetime | None]],
) -> EngineerInputs:
    region_id, tz = frame.region.id, frame.tz
    engineers, skipped = plan_inputs.engineers(session, region_id, day)
    if only_engineers is not None:
        engineers = [(e, sh) for e, sh in engineers if e.id in only_engineers]
        skipped = {k: v for k, v in skipped.items() if k in only_engineers}
    region_ids = list(
        session.scalars(select(Engineer.id).where(Engineer.region_id == region_id, Engineer.active))
    )
    parts = _part_absences(plan_inputs.part_absences(session, day, region_ids), day, frame)
    # the what-if's late start or gap, as it will be once recorded (one absence a day: it stands
    # for a recorded one)
    for e, (a, b) in what_if.items():
        if b is not None:
            parts[e] = (a or frame.ref, b)
    # going home early (recorded, or the what-if's cut; all day: from its start): the shift ends
    # there, pins are released
    stops = {e: a for e, (a, b) in parts.items() if b == frame.day_end}
    for e, (a, b) in what_if.items():
        if b is None:
            at = a or frame.ref
            stops[e] = min(at, stops.get(e, at))
    shift_times: dict[int, tuple[datetime, datetime]] = {}
    for person, sh in engineers:
        begin = local_at(day, sh.starts, tz)
        left = _cut(begin, local_at(day, sh.ends, tz), stops.get(person.id), parts.get(person.id))
        shift_times[person.id] = left[:2] if left else (begin, begin)  # none left: nothing to take off cover
    absences = {
        e.id: span
        for e, sh in engineers
        if (
            span := _absent_span(local_at(day, sh.starts, tz), local_at(day, sh.ends, tz), e.id, stops, parts)
        )
    }
    away = {eid: [parts[eid]] if eid in parts else [] for eid in set(parts) | set(stops)}
    for eid, at in stops.items():
        away[eid].append((at, frame.day_end))
    covers = plan_inputs.on_call(session, region_id, day, frame.ref, frame.day_end, shift_times, away)
    if only_engineers is not None:
        covers = [c for c in covers if c.engineer.id in only_engineers]
    eng_ids = [e.id for e, _ in engineers] + [c.engineer.id for c in covers]
    van_location = {
        eng: loc
        for eng, loc in session.execute(
            select(StockLocation.engineer_id, StockLocation.id).where(StockLocation.engineer_id.in_(eng_ids))
        )
        if eng is not None
    }
    warehouses = list(
        session.scalars(select(Warehouse).where(Warehouse.region_id == region_id).order_by(Warehouse.id))
    )
    warehouse_location = {
        wh: loc
        for wh, loc in session.execute(
            select(StockLocation.warehouse_id, StockLocation.id).where(
                StockLocation.warehouse_id.in_([w.id for w in warehouses])
            )
        )
        if wh is not None
    }
    return EngineerInputs(
        engineers=engineers,
        skipped=skipped,
        shift_times=shift_times,
        covers=covers,
        stops_at=stops,
        part_absences=parts,
        absences=absences,
        van_location=van_location,
        warehouses=warehouses,
        warehouse_location=warehouse_location,
    )


def _engine_engineers(
    frame: DayFrame,
    day: date,
    eng: EngineerInputs,
    starts: dict[int, tuple[tuple[float, float], datetime]],
    stock: dict[int, dict[str, int]],
) -> list[dispatch.Engineer]:
    """The engine's engineers; one whose shift is already over is added to `eng.skipped`."""
    tz, ref, skipped, van_location = frame.tz, frame.ref, eng.skipped, eng.van_location
    eng_rows: list[dispatch.Engineer] = []
    for e, shift in eng.engineers:
        begin, end = local_at(day, shift.starts, tz), local_at(day, shift.ends, tz)
        if e.id in eng.stops_at and eng.stops_at[e.id] < end:
            end = eng.stops_at[e.id]
            if end <= begin:
                skipped[e.id] = "absent"
                continue
        start_loc: tuple[float, float] = (e.home_latitude, e.home_longitude)
        if e.id in starts:
            start_loc, free_at = starts[e.id]
            begin = max(begin, free_at)
        if begin >= end:
            skipped[e.id] = "absent" if e.id in eng.stops_at else "shift over"
            continue
        # after `free_at`: a re-plan during a gap starts the engineer when it ends
        left = _cut(begin, end, None, eng.part_absences.get(e.id))
        if left is None:
            skipped[e.id] = "absent"
            continue
        begin, end, gap = left
        breaks = _breaks(frame, day, shift, (begin, end), gap)
        eng_rows.append(
            dispatch.Engineer(
                id=engineer_key(e.id),
                start=start_loc,
                end=(e.home_latitude, e.home_longitude),
                shift=(to_s_up(ref, begin), to_s(ref, end)),
                skills=frozenset(e.skills or ()),
                stock=stock.get(van_location.get(e.id, -1), {}),
                breaks=tuple(breaks),
            )
        )
    eng_rows += _on_call_engineers(frame, eng, starts, stock)
    return eng_rows


def _breaks(
    frame: DayFrame,
    day: date,
    shift: Shift,
    hours: tuple[datetime, datetime],
    gap: tuple[datetime, datetime] | None,
) -> list[dispatch.Break]:
    """The shift's break (it may move by BREAK_SLACK) and a gap of absence inside the shift.

    The engine has no "unavailable from–to"; its breaks are what it keeps free of visits: a
    break of a duration starting inside a window, taken between stops or during a drive
    (dispatch.schedule, checked by dispatch.check). A gap is a break whose window is exactly its
    start and whose duration is its length, so no visit overlaps it. What a break cannot say:
    where the engineer is (a drive may run into it: the route does not go to the training)."""
    ref = frame.ref
    out = [_shift_break(frame, day, shift, hours, gap)] if shift.break_starts and shift.break_ends else []
    if gap is not None:
        g0, g1 = gap
        out.append(dispatch.Break((to_s(ref, g0), to_s(ref, g0)), int((g1 - g0).total_seconds())))
    return sorted((b for b in out if b is not None), key=lambda b: b.window[0])


def _shift_break(
    frame: DayFrame,
    day: date,
    shift: Shift,
    hours: tuple[datetime, datetime],
    gap: tuple[datetime, datetime] | None,
) -> dispatch.Break | None:
    assert shift.break_starts is not None and shift.break_ends is not None
    begin, end = hours
    b0 = local_at(day, shift.break_starts, frame.tz)
    length = local_at(day, shift.break_ends, frame.tz) - b0
    window = _around_gap(b0, length, (max(b0 - BREAK_SLACK, begin), b0 + BREAK_SLACK), gap)
    # a break that cannot end before the shift does (cut by an absence) is not taken
    if window is None or window[1] < window[0] or length.total_seconds() <= 0 or window[0] + length > end:
        return None
    return dispatch.Break(
        (to_s(frame.ref, window[0]), to_s(frame.ref, window[1])), int(length.total_seconds())
    )


def _around_gap(
    b0: datetime, length: timedelta, window: tuple[datetime, datetime], gap: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime] | None:
    """The break's start window kept clear of the gap (the two must not overlap, or the engine
    would count the same time twice); None when the break falls in the gap (it is rest enough)."""
    if gap is None:
        return window
    g0, g1 = gap
    lo, hi = window
    if b0 < g1 and b0 + length > g0:
        return None
    if b0 + length <= g0:
        return lo, min(hi, g0 - length)
    return max(lo, g1), hi


def _part_absences(
    raw: dict[int, tuple[time | None, time | None]], day: date, frame: DayFrame
) -> dict[int, tuple[datetime, datetime]]:
    """The recorded part-day absences as instants; an open side is the day's start or end."""
    return {
        e: (
            local_at(day, a, frame.tz) if a is not None else frame.ref,
            local_at(day, b, frame.tz) if b is not None else frame.day_end,
        )
        for e, (a, b) in raw.items()
    }


def _cut(
    begin: datetime, end: datetime, stop: datetime | None, away: tuple[datetime, datetime] | None
) -> tuple[datetime, datetime, tuple[datetime, datetime] | None] | None:
    """Working time [begin, end) less going home at `stop` and the absence `away`: its start, end
    and the gap inside it; None when nothing is left."""
    if stop is not None:
        end = min(end, stop)
    if begin >= end:
        return None
    if away is None:
        return begin, end, None
    return day_part.remaining(begin, end, *away)


def _absent_span(
    starts: datetime,
    ends: datetime,
    engineer_id: int,
    stops: dict[int, datetime],
    parts: dict[int, tuple[datetime, datetime]],
) -> tuple[datetime, datetime] | None:
    """The stretch of the shift [starts, ends) an engineer is away for part of (what a reason
    names: "absent from 13:00 to 17:00"); None when there is none, or it is the whole shift."""
    stop = stops.get(engineer_id)
    if stop is not None and starts < stop < ends:
        return stop, ends
    if engineer_id not in parts:
        return None
    a, b = parts[engineer_id]
    a, b = max(a, starts), min(b, ends)
    return (a, b) if a < b and (a, b) != (starts, ends) else None


def _on_call_engineers(
    frame: DayFrame,
    eng: EngineerInputs,
    starts: dict[int, tuple[tuple[float, float], datetime]],
    stock: dict[int, dict[str, int]],
) -> list[dispatch.Engineer]:
    """One engine engineer per stretch of on-call cover (with the call-out cost); an engineer who
    is on call is no longer in `eng.skipped`."""
    callout = get_settings().on_call_callout_cost
    rows: list[dispatch.Engineer] = []
    for c in eng.covers:
        e = c.engineer
        begin, end = c.starts_at, c.ends_at
        start_loc = (e.home_latitude, e.home_longitude)
        if e.id in starts:
            start_loc, free_at = starts[e.id]
            begin = max(begin, free_at)
        if begin >= end:
            continue
        rows.append(
            dispatch.Engineer(
                id=cover_key(e.id, c.key),
                start=start_loc,
                end=(e.home_latitude, e.home_longitude),
                shift=(to_s_up(frame.ref, begin), to_s(frame.ref, end)),
                skills=frozenset(e.skills or ()),
                stock=stock.get(eng.van_location.get(e.id, -1), {}),
                on_call=True,
                fixed_cost=callout,
            )
        )
        eng.skipped.pop(e.id, None)  # not working a shift, but on call
    return rows


def horizon_s(ref: datetime, as_of: datetime | None, engineers: Iterable[dispatch.Engineer]) -> int:
    """The first moment a plan can act (engine seconds): the re-plan's now, or the day's first
    shift. A deadline that passed before it is sunk, and counts from here: else serving an overdue
    visit could cost more than dropping it (the what-if's emergency uses the same)."""
    return to_s(ref, as_of) if as_of is not None else min((e.shift[0] for e in engineers), default=0)


def _engine_jobs(
    frame: DayFrame,
    wo: WorkOrderInputs,
    as_of: datetime | None,
    eng_rows: list[dispatch.Engineer],
    leaving: Mapping[int, datetime],
) -> tuple[list[dispatch.Job], dict[int, int], dict[int, tuple[int, datetime]]]:
    """The engine's jobs, the version of each work order they were made from, and the visits
    kept where a dispatcher put them by hand (`WorkOrderInputs.held`, those still keepable).
    `leaving`: engineers going home early -> when (`EngineerInputs.stops_at`)."""
    ref, day_end, sites, windows, locked, sku = (
        frame.ref,
        frame.day_end,
        wo.sites,
        wo.windows,
        wo.locked,
        wo.sku,
    )
    # Engineers who work (part of) the day on a shift.
    working = {key_id(e.id) for e in eng_rows if e.on_call is False}
    # A visit pinned to an engineer who goes home early may go to anyone (pins are by hand, for a
    # day the engineer was expected to work through).
    planned_eng = working - set(leaving)

    horizon = horizon_s(ref, as_of, eng_rows)
    jobs: list[dispatch.Job] = []
    versions: dict[int, int] = {}
    held: dict[int, tuple[int, datetime]] = {}
    for w in wo.plannable:
        site = sites[w.site_id]
        wins = tuple(
            sorted(
                (to_s_up(ref, max(a, ref)), to_s(ref, min(b, day_end)))
                for a, b in windows.get(w.id, ())
                if a < day_end and b > ref
            )
        )
        if windows.get(w.id) and not wins:
            continue  # its windows are on other days
        appointment = None
        if w.appointment_start_at and w.appointment_end_at:
            appointment = (to_s_up(ref, w.appointment_start_at), to_s(ref, w.appointment_end_at))
        pinned = None
        if w.id in locked and w.engineer_id in planned_eng:
            pinned = engineer_key(w.engineer_id)
        due = None if w.id in wo.arrival_settled else w.sla_deadline_at
        priority = _priority(w.priority)
        keep = wo.held.get(w.id)
        # A start already past (the late beat's re-plan) is timed from now again; an engineer who
        # is not working the day releases it, as any pin. One going home early keeps a time set
        # before they leave (a schedule made after the absence was recorded is checked against
        # it: the start is within their hours); a visit that runs past it is kept and marked at
        # risk like any the day cannot fit. Before, their hand-set times were all re-timed.
        if (
            keep is not None
            and keep[0] in working
            and max(ref, as_of or ref) <= keep[1] < min(day_end, leaving.get(keep[0], day_end))
        ):
            at = to_s(ref, keep[1])
            # A window of zero width on its engineer: the engine routes the others around it. As
            # a P1 it is dropped only when it cannot be done there at all (the publish then leaves
            # it where it stands and marks it at risk), never to make room for other work.
            wins, pinned, priority = ((at, at),), engineer_key(keep[0]), 1
            held[w.id] = keep
        jobs.append(
            dispatch.Job(
                id=job_key(w.id),
                location=(site.latitude, site.longitude),
                duration_s=w.duration_min * 60,
                windows=wins,
                skills=frozenset(w.required_skills or ()),
                parts={sku[p]: q for p, q in wo.parts_needed.get(w.id, {}).items()},
                priority=priority,
                sla_deadline=max(to_s(ref, due), horizon) if due else None,
                pinned_engineer=pinned,
                appointment=appointment,
                on_call_ok=w.priority == "P1"
                or (w.id in wo.round_the_clock and due is not None and due < day_end),
            )
        )
        versions[w.id] = w.version
    return jobs, versions, held


def _engine_warehouses(
    frame: DayFrame, day: date, eng: EngineerInputs, stock: dict[int, dict[str, int]]
) -> list[dispatch.Warehouse]:
    ref, tz, warehouse_location = frame.ref, frame.tz, eng.warehouse_location
    return [
        dispatch.Warehouse(
            id=warehouse_key(w.id),
            location=(w.latitude, w.longitude),
            open=(to_s(ref, local_at(day, w.opens, tz)), to_s(ref, local_at(day, w.closes, tz))),
            pickup_s=w.pickup_min * 60,
            stock=stock.get(warehouse_location.get(w.id, -1), {}),
        )
        for w in eng.warehouses
    ]


def _skipped_skills(session: Session, skipped: dict[int, str]) -> dict[int, tuple[str, frozenset[str]]]:
    """Name and skills of each engineer left out, for explain's per-engineer reasons."""
    return {
        eid: (name, frozenset(skills or ()))
        for eid, name, skills in session.execute(
            select(Engineer.id, Engineer.name, Engineer.skills).where(Engineer.id.in_(list(skipped)))
        )
    }


def _priority(value: str) -> int:
    try:
        p = int(str(value).upper().lstrip("P"))
    except ValueError:
        return 3
    return min(max(p, 1), 4)
