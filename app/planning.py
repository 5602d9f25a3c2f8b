"""The one bridge between the database and the dispatch engine: rows → `dispatch.Problem`.

`load` reads a region's day (open work orders, shifts, positions, van and warehouse stock,
promised appointments) into a `Loaded` snapshot of plain data that outlives the session, so the
solve runs outside any transaction. `app.plan_publish` maps the engine's `Plan` back.

Times: the engine counts integer seconds from local midnight of the plan day in the region's
time zone (`ref`, stored as UTC). Wall-clock times are converted through the zone for that very
date, so shifts on a 23- or 25-hour DST day land on the right UTC instant.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

import dispatch
from app.errors import NotFound
from app.models import (
    Absence,
    Engineer,
    Part,
    PlanDay,
    PlanStop,
    Region,
    ReservationStatus,
    Shift,
    Site,
    StockLevel,
    StockLocation,
    StockReservation,
    Warehouse,
    WorkOrder,
    WorkOrderPart,
    WorkOrderStatus,
    WorkOrderWindow,
)

S = WorkOrderStatus
PLANNABLE = (S.unscheduled.value, S.scheduled.value)
STARTED = (S.en_route.value, S.on_site.value)
# A break may start this long before or after the shift's planned break start.
BREAK_SLACK = timedelta(minutes=30)
# A reported position older than this says nothing about where the engineer is now.
POSITION_FRESH = timedelta(hours=2)


# ---------------------------------------------------------------------------------- ids and time
def engineer_key(engineer_id: int) -> str:
    return f"E{engineer_id}"


def job_key(work_order_id: int) -> str:
    return f"WO{work_order_id}"


def warehouse_key(warehouse_id: int) -> str:
    return f"W{warehouse_id}"


def key_id(key: str) -> int:
    """The database id inside an engine key (E12 → 12, WO7 → 7, W3 → 3)."""
    return int(key.lstrip("EWO"))


def day_reference(day: date, tz: str) -> datetime:
    """Local midnight of `day` in `tz`, as an aware UTC datetime: the engine's second 0."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_at(day: date, t: time, tz: str) -> datetime:
    return datetime.combine(day, t, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def to_s(ref: datetime, at: datetime) -> int:
    """Whole seconds, rounded down (ends of windows, deadlines)."""
    return math.floor((at - ref).total_seconds())


def to_s_up(ref: datetime, at: datetime) -> int:
    """Whole seconds, rounded up: a window or promise opening at 10:00:00.4 opens at second 1."""
    return math.ceil((at - ref).total_seconds())


def from_s(ref: datetime, seconds: int) -> datetime:
    return ref + timedelta(seconds=int(seconds))


def local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


# --------------------------------------------------------------------------------------- snapshot
@dataclass(frozen=True)
class FixedVisit:
    """A visit that started (or finished) before `as_of`: kept as it is, never moved."""

    work_order_id: int
    engineer_id: int
    start_at: datetime
    end_at: datetime
    status: str


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
    skipped_engineers: dict[int, str] = field(default_factory=dict)  # engineer id -> why not planned
    fingerprint: str = ""
    current_run_id: int | None = None

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
) -> Loaded:
    """Snapshot the region's day as an engine problem. With `as_of` (a re-plan during the day)
    started and finished visits are frozen and engineers start where they are at that moment.

    `only_engineers` / `only_work_orders` cut out part of the day (a manual assignment re-plans
    one engineer's visits); listed work orders are taken whatever day they were planned on."""
    region = get_region(session, region_id)
    tz = region.timezone
    ref = day_reference(day, tz)
    day_end = day_reference(day + timedelta(days=1), tz)
    plan_day = current_plan_day(session, region_id, day)
    current_run_id = plan_day.current_run_id if plan_day else None

    work_orders = _day_work_orders(session, region_id, ref, day_end, as_of, only_work_orders)
    if only_engineers is not None:
        work_orders = [w for w in work_orders if w.status in PLANNABLE or w.engineer_id in only_engineers]
    plannable = [w for w in work_orders if w.status in PLANNABLE]
    started = [w for w in work_orders if w.status not in PLANNABLE]
    locked = _locked(session, current_run_id)
    windows = _windows(session, [w.id for w in plannable])
    parts_needed = _parts(session, [w.id for w in plannable])
    part_ids = dict(
        session.execute(
            select(Part.sku, Part.id).where(Part.id.in_({p for need in parts_needed.values() for p in need}))
        ).all()
    )
    sku = {pid: s for s, pid in part_ids.items()}
    sites = {
        s.id: s for s in session.scalars(select(Site).where(Site.id.in_({w.site_id for w in work_orders})))
    }

    engineers, skipped = _engineers(session, region_id, day)
    if only_engineers is not None:
        engineers = [(e, sh) for e, sh in engineers if e.id in only_engineers]
        skipped = {k: v for k, v in skipped.items() if k in only_engineers}
    eng_ids = [e.id for e, _ in engineers]
    van_location = dict(
        session.execute(
            select(StockLocation.engineer_id, StockLocation.id).where(StockLocation.engineer_id.in_(eng_ids))
        ).all()
    )
    warehouses = list(
        session.scalars(select(Warehouse).where(Warehouse.region_id == region_id).order_by(Warehouse.id))
    )
    warehouse_location = dict(
        session.execute(
            select(StockLocation.warehouse_id, StockLocation.id).where(
                StockLocation.warehouse_id.in_([w.id for w in warehouses])
            )
        ).all()
    )
    job_ids = {w.id for w in plannable}
    stock = _available_stock(
        session, list(van_location.values()) + list(warehouse_location.values()), job_ids, sku
    )

    fixed: list[FixedVisit] = []
    starts: dict[int, tuple[tuple[float, float], datetime]] = {}
    if as_of is not None:
        fixed, starts = _frozen_day(session, started, sites, engineers, as_of)

    eng_rows: list[dispatch.Engineer] = []
    for e, shift in engineers:
        begin, end = local_at(day, shift.starts, tz), local_at(day, shift.ends, tz)
        start_loc: tuple[float, float] = (e.home_latitude, e.home_longitude)
        if e.id in starts:
            start_loc, free_at = starts[e.id]
            begin = max(begin, free_at)
        if begin >= end:
            skipped[e.id] = "shift over"
            continue
        breaks: list[dispatch.Break] = []
        if shift.break_starts and shift.break_ends:
            b0 = local_at(day, shift.break_starts, tz)
            length = local_at(day, shift.break_ends, tz) - b0
            lo, hi = max(b0 - BREAK_SLACK, begin), b0 + BREAK_SLACK
            if hi >= lo and length.total_seconds() > 0:
                breaks.append(dispatch.Break((to_s(ref, lo), to_s(ref, hi)), int(length.total_seconds())))
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
    planned_eng = {key_id(e.id) for e in eng_rows}

    # A deadline that passed before the day's first shift (or the re-plan) began is sunk: lateness
    # counts from the first moment this plan can act, else serving an overdue visit could cost
    # more than dropping it.
    horizon = to_s(ref, as_of) if as_of is not None else min((e.shift[0] for e in eng_rows), default=0)
    jobs: list[dispatch.Job] = []
    versions: dict[int, int] = {}
    for w in plannable:
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
        jobs.append(
            dispatch.Job(
                id=job_key(w.id),
                location=(site.latitude, site.longitude),
                duration_s=w.duration_min * 60,
                windows=wins,
                skills=frozenset(w.required_skills or ()),
                parts={sku[p]: q for p, q in parts_needed.get(w.id, {}).items()},
                priority=_priority(w.priority),
                sla_deadline=max(to_s(ref, w.sla_deadline_at), horizon) if w.sla_deadline_at else None,
                pinned_engineer=pinned,
                appointment=appointment,
            )
        )
        versions[w.id] = w.version

    wh_rows = [
        dispatch.Warehouse(
            id=warehouse_key(w.id),
            location=(w.latitude, w.longitude),
            open=(to_s(ref, local_at(day, w.opens, tz)), to_s(ref, local_at(day, w.closes, tz))),
            pickup_s=w.pickup_min * 60,
            stock=stock.get(warehouse_location.get(w.id, -1), {}),
        )
        for w in warehouses
    ]
    problem = None  # the engine needs someone to plan for: without engineers every job stays open
    if eng_rows:
        problem = dispatch.Problem(
            engineers=tuple(eng_rows),
            jobs=tuple(jobs),
            warehouses=tuple(wh_rows),
            settings=settings or dispatch.Settings(),
            name=f"{region.code} {day.isoformat()}",
        )
    loaded = Loaded(
        region_id=region_id,
        day=day,
        tz=tz,
        ref=ref,
        as_of=as_of,
        problem=problem,
        versions=versions,
        part_ids=part_ids,
        van_location=van_location,
        warehouse_location=warehouse_location,
        fixed=fixed,
        locked={w for w in locked if w in versions},
        skipped_engineers=skipped,
        current_run_id=current_run_id,
    )
    loaded.fingerprint = fingerprint(loaded, jobs, solve_params or {})
    return loaded


def _priority(value: str) -> int:
    try:
        p = int(str(value).upper().lstrip("P"))
    except ValueError:
        return 3
    return min(max(p, 1), 4)


def _day_work_orders(
    session: Session,
    region_id: int,
    ref: datetime,
    day_end: datetime,
    as_of: datetime | None,
    only: set[int] | None = None,
) -> list[WorkOrder]:
    """Open work orders of the region that belong to this day: scheduled on it, promised on it,
    or unscheduled without an appointment elsewhere. With `as_of`, also the visits started or
    finished on it (they are frozen)."""
    wanted = WorkOrder.status.in_(PLANNABLE)
    if as_of is not None:
        in_day = or_(
            and_(WorkOrder.planned_start_at >= ref, WorkOrder.planned_start_at < day_end),
            and_(WorkOrder.checked_in_at >= ref, WorkOrder.checked_in_at < day_end),
        )
        frozen = (*STARTED, S.done.value, S.needs_follow_up.value)
        wanted = or_(wanted, and_(WorkOrder.status.in_(frozen), in_day))
    rows = session.scalars(
        select(WorkOrder).where(WorkOrder.region_id == region_id, wanted).order_by(WorkOrder.id)
    ).all()
    out = []
    for w in rows:
        if only is not None and w.status in PLANNABLE:
            if w.id in only:
                out.append(w)
            continue
        if w.status in PLANNABLE:
            if w.appointment_start_at is not None and not ref <= w.appointment_start_at < day_end:
                continue
            if (
                w.status == S.scheduled
                and w.planned_start_at is not None
                and not ref <= w.planned_start_at < day_end
            ):
                continue
        else:
            at = w.checked_in_at or w.planned_start_at
            if w.engineer_id is None or at is None or not ref <= at < day_end:
                continue
        out.append(w)
    return out


def _windows(session: Session, ids: list[int]) -> dict[int, list[tuple[datetime, datetime]]]:
    out: dict[int, list[tuple[datetime, datetime]]] = {}
    for row in session.scalars(select(WorkOrderWindow).where(WorkOrderWindow.work_order_id.in_(ids))):
        out.setdefault(row.work_order_id, []).append((row.starts_at, row.ends_at))
    return out


def _parts(session: Session, ids: list[int]) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = {}
    for row in session.scalars(select(WorkOrderPart).where(WorkOrderPart.work_order_id.in_(ids))):
        if row.quantity > 0:
            out.setdefault(row.work_order_id, {})[row.part_id] = row.quantity
    return out


def _locked(session: Session, run_id: int | None) -> set[int]:
    """Work orders a dispatcher assigned by hand in the published plan: they stay pinned."""
    if run_id is None:
        return set()
    return set(
        session.scalars(
            select(PlanStop.work_order_id).where(
                PlanStop.plan_run_id == run_id, PlanStop.locked, PlanStop.work_order_id.is_not(None)
            )
        )
    )


def _engineers(
    session: Session, region_id: int, day: date
) -> tuple[list[tuple[Engineer, Shift]], dict[int, str]]:
    rows = session.execute(
        select(Engineer, Shift)
        .outerjoin(Shift, (Shift.engineer_id == Engineer.id) & (Shift.weekday == day.weekday()))
        .where(Engineer.region_id == region_id, Engineer.active)
        .order_by(Engineer.id)
    ).all()
    absent = set(
        session.scalars(
            select(Absence.engineer_id).where(
                Absence.day == day, Absence.engineer_id.in_([e.id for e, _ in rows])
            )
        )
    )
    out, skipped = [], {}
    for e, shift in rows:
        if shift is None:
            skipped[e.id] = "no shift that weekday"
        elif e.id in absent:
            skipped[e.id] = "absent"
        else:
            out.append((e, shift))
    return out, skipped


def _available_stock(
    session: Session, location_ids: list[int], job_ids: set[int], sku: dict[int, str]
) -> dict[int, dict[str, int]]:
    """Per location: quantity minus what is reserved for visits outside this plan (the plan's
    own reservations are released and made again when it publishes)."""
    if not location_ids or not sku:
        return {}
    own: dict[tuple[int, int], int] = {}
    if job_ids:
        for r in session.scalars(
            select(StockReservation).where(
                StockReservation.status == ReservationStatus.held, StockReservation.work_order_id.in_(job_ids)
            )
        ):
            own[(r.location_id, r.part_id)] = own.get((r.location_id, r.part_id), 0) + r.quantity
    out: dict[int, dict[str, int]] = {}
    for lv in session.scalars(
        select(StockLevel).where(StockLevel.location_id.in_(location_ids), StockLevel.part_id.in_(list(sku)))
    ):
        free = lv.quantity - lv.reserved + own.get((lv.location_id, lv.part_id), 0)
        if free > 0:
            out.setdefault(lv.location_id, {})[sku[lv.part_id]] = free
    return out


def _frozen_day(
    session: Session,
    started: list[WorkOrder],
    sites: dict[int, Site],
    engineers: list[tuple[Engineer, Shift]],
    as_of: datetime,
) -> tuple[list[FixedVisit], dict[int, tuple[tuple[float, float], datetime]]]:
    """Visits that will not move, and where and when each engineer is next free."""
    fixed: list[FixedVisit] = []
    starts: dict[int, tuple[tuple[float, float], datetime]] = {}
    last_done: dict[int, tuple[datetime, tuple[float, float]]] = {}
    for w in started:
        assert w.engineer_id is not None
        site = sites[w.site_id]
        loc = (site.latitude, site.longitude)
        begin = w.checked_in_at or w.planned_start_at or as_of
        if w.status in STARTED:
            end = max(as_of, begin + timedelta(minutes=w.duration_min))
            if w.status == S.en_route:  # still driving there: the visit starts at its ETA at the earliest
                begin = max(as_of, w.eta_at or w.planned_start_at or as_of)
                end = begin + timedelta(minutes=w.duration_min)
            starts[w.engineer_id] = (loc, end)
        else:
            end = w.checked_out_at or begin + timedelta(minutes=w.duration_min)
            prev = last_done.get(w.engineer_id)
            if prev is None or end > prev[0]:
                last_done[w.engineer_id] = (end, loc)
        fixed.append(FixedVisit(w.id, w.engineer_id, begin, end, w.status))
    for e, _ in engineers:
        if e.id in starts:
            continue
        pos_fresh = (
            e.position_at is not None
            and e.current_latitude is not None
            and e.current_longitude is not None
            and as_of - e.position_at <= POSITION_FRESH
        )
        done = last_done.get(e.id)
        if pos_fresh and (done is None or e.position_at >= done[0]):  # type: ignore[operator]
            starts[e.id] = ((e.current_latitude, e.current_longitude), as_of)  # type: ignore[assignment]
        elif done is not None:
            starts[e.id] = (done[1], as_of)
        else:
            starts[e.id] = ((e.home_latitude, e.home_longitude), as_of)
    return fixed, starts


# ------------------------------------------------------------------------------------ fingerprint
def fingerprint(loaded: Loaded, jobs: list[dispatch.Job], solve_params: dict[str, Any]) -> str:
    """A hash of the engine input and the solve parameters: the same input plans the same way,
    so a plan with the fingerprint of the published one needs no publishing."""
    p = loaded.problem
    doc: dict[str, Any] = {
        "region": loaded.region_id,
        "day": loaded.day.isoformat(),
        "params": solve_params,
        "as_of": loaded.as_of.isoformat() if loaded.as_of else None,
        "fixed": [
            (f.work_order_id, f.engineer_id, f.start_at.isoformat(), f.end_at.isoformat())
            for f in loaded.fixed
        ],
        "locked": sorted(loaded.locked),
    }
    if p is not None:
        doc["engineers"] = [_plain(e) for e in p.engineers]
        doc["jobs"] = [_plain(j) for j in p.jobs]
        doc["warehouses"] = [_plain(w) for w in p.warehouses]
        doc["settings"] = _plain(p.settings)
    else:
        doc["jobs"] = [_plain(j) for j in jobs]
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(obj: Any) -> Any:
    if hasattr(obj, "__slots__") or hasattr(obj, "__dataclass_fields__"):
        names = getattr(obj, "__dataclass_fields__", {})
        return {n: _plain(getattr(obj, n)) for n in sorted(names)}
    if isinstance(obj, frozenset | set):
        return sorted(_plain(x) for x in obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    return obj
