"""The dispatcher's board data for one region and day, in one read: every engineer's shift,
break, absence and published stops (with travel before each and its ETA, status and at-risk
mark), the unassigned work with the engine's reason and the SLA due time, the warehouses, and a
fingerprint the page polls with (ETag) to refresh only when something changed.

A fixed handful of queries whatever the size of the region (no per-engineer or per-visit
query): bench/board.py measures it on 100 engineers / 1 000 visits.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session, load_only

from app.field.engineers import day_part
from app.models import (
    Absence,
    Account,
    Engineer,
    PlanDay,
    PlanRun,
    PlanStop,
    PlanUnassigned,
    Region,
    ReservationStatus,
    Shift,
    Site,
    StockLocation,
    StockReservation,
    Ticket,
    User,
    Warehouse,
    WorkOrder,
    WorkOrderStatus,
    WorkOrderWindow,
)
from app.planning import moved as plan_moved
from app.planning import pins as plan_pins
from app.planning.progress import Progress, progress
from app.planning.reasons import readable
from app.platform.db import utcnow
from app.platform.errors import NotFound, Unprocessable

OPEN = (WorkOrderStatus.unscheduled.value, WorkOrderStatus.scheduled.value)
# Visits of the day an engineer is on: planned, on the way or on site.
LIVE = (WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value, WorkOrderStatus.on_site.value)
FINISHED = (WorkOrderStatus.done.value, WorkOrderStatus.needs_follow_up.value)
# Distinct colours for the engineers' routes (row stripe and map line share one).
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
    "#7f7f7f", "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)  # fmt: skip


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:  # as read (UTCDateTime): ~5 000 per board, converting each cost ~2 ms
        return value.isoformat()
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def _local_text(value: datetime | None, tz: ZoneInfo) -> str | None:
    """A due time as the board shows it, "Fri 11 Dec 10:38" in the region's zone."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(tz).strftime("%a %d %b %H:%M")


def _at(day: date, clock: time | None, tz: ZoneInfo) -> str | None:
    return None if clock is None else _iso(datetime.combine(day, clock, tzinfo=tz))


_BOARD_VISIT = load_only(
    WorkOrder.number,
    WorkOrder.ticket_id,
    WorkOrder.version,
    WorkOrder.status,
    WorkOrder.priority,
    WorkOrder.engineer_id,
    WorkOrder.at_risk_reason,
    WorkOrder.at_risk_since,
    WorkOrder.sla_deadline_at,
    WorkOrder.planned_start_at,
    WorkOrder.eta_at,
    WorkOrder.checked_in_at,
    WorkOrder.checked_out_at,
    WorkOrder.duration_min,
)
_BOARD_SITE = load_only(Site.latitude, Site.longitude)
# The plan's stops as plain rows, one per stop with its visit, site, customer and warehouse: at
# 1 000 stops, loading them as objects (stop, visit, site, warehouse: ~3 000 instances, each with
# its state and lazy loaders) cost more than the query, and what survived to the end of the build
# set off a full garbage collection every second or third build (100-140 ms: the p95 at twice the
# p50, docs/board.md "Speed").
_STOP_ROW = (
    PlanStop.kind,
    PlanStop.seq,
    PlanStop.engineer_id,
    PlanStop.arrival_at,
    PlanStop.start_at,
    PlanStop.end_at,
    PlanStop.late_s,
    WorkOrder.id.label("wo_id"),
    WorkOrder.number,
    WorkOrder.ticket_id,
    WorkOrder.version,
    WorkOrder.status,
    WorkOrder.priority,
    WorkOrder.engineer_id.label("wo_engineer_id"),
    WorkOrder.at_risk_reason,
    WorkOrder.at_risk_since,
    WorkOrder.sla_deadline_at,
    WorkOrder.planned_start_at,
    WorkOrder.eta_at.label("wo_eta_at"),
    WorkOrder.checked_in_at,
    WorkOrder.checked_out_at,
    Site.latitude,
    Site.longitude,
    Account.name.label("customer"),
    Warehouse.name.label("warehouse"),
    Warehouse.latitude.label("warehouse_lat"),
    Warehouse.longitude.label("warehouse_lon"),
    # A pickup stop with nothing left to fetch there (the engineer confirmed "Picked up", or the
    # visits' parts were used or released): the route drops it, so does the board. One EXISTS per
    # pickup row of the same query, no query per stop (the board's query count is benchmarked).
    case(
        (
            PlanStop.kind == "pickup",
            exists().where(
                StockReservation.status == ReservationStatus.held.value,
                StockReservation.pickup_engineer_id == PlanStop.engineer_id,
                StockReservation.location_id == StockLocation.id,
                StockLocation.warehouse_id == PlanStop.warehouse_id,
            ),
        ),
        else_=None,
    ).label("to_fetch"),
)


def board(session: Session, *, region_id: int, day: date) -> dict[str, Any]:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(f"Region {region_id} does not exist.")
    tz = ZoneInfo(region.timezone)
    plan_day = session.scalar(select(PlanDay).where(PlanDay.region_id == region_id, PlanDay.day == day))
    run = session.get(PlanRun, plan_day.current_run_id) if plan_day and plan_day.current_run_id else None
    engineers = list(
        session.scalars(
            select(Engineer)
            .where(Engineer.region_id == region_id, Engineer.active.is_(True))
            .order_by(Engineer.name)
        )
    )
    ids = [e.id for e in engineers] or [-1]
    shifts = {
        s.engineer_id: s
        for s in session.scalars(
            select(Shift).where(Shift.engineer_id.in_(ids), Shift.weekday == day.weekday())
        )
    }
    absences = {
        a.engineer_id: a
        for a in session.scalars(select(Absence).where(Absence.engineer_id.in_(ids), Absence.day == day))
    }
    stops = (
        session.execute(
            select(*_STOP_ROW)
            .select_from(PlanStop)
            .outerjoin(WorkOrder, WorkOrder.id == PlanStop.work_order_id)
            .outerjoin(Site, Site.id == WorkOrder.site_id)
            .outerjoin(Account, Account.id == WorkOrder.account_id)
            .outerjoin(Warehouse, Warehouse.id == PlanStop.warehouse_id)
            .where(PlanStop.plan_run_id == (run.id if run else -1))
            .order_by(PlanStop.engineer_id, PlanStop.seq)
        )
    ).all()
    rows: dict[int, dict[str, Any]] = {}
    for i, e in enumerate(engineers):
        shift, absence = shifts.get(e.id), absences.get(e.id)
        rows[e.id] = {
            "id": e.id,
            "name": e.name,
            "colour": PALETTE[i % len(PALETTE)],
            "skills": e.skills or [],
            "absent": _absent_text(absence),
            # where the row's "Absent" band starts and ends (_absent_band): a late start or a gap is
            # drawn as the hours it takes, not as if the engineer left for the rest of the day
            **_absent_band(day, shift, absence, tz),
            "shift": None
            if shift is None
            or (absence is not None and day_part.whole_day(absence.from_time, absence.until_time))
            else _shift_row(day, shift, absence, tz),
            "position": {"lat": e.current_latitude, "lon": e.current_longitude, "at": _iso(e.position_at)}
            if e.current_latitude is not None and e.current_longitude is not None
            else None,
            "home": {"lat": e.home_latitude, "lon": e.home_longitude},
            "stops": [],
        }
    previous_end: dict[int, datetime] = {}
    drawn_end: dict[int, datetime] = {}  # where the row's last block ends as drawn (moved, started)
    shown: dict[int, plan_pins.Visit] = {}  # the visits on the rows, for their pin marks
    for stop in stops:
        row = rows.get(stop.engineer_id)
        if row is None or (stop.kind == "pickup" and not stop.to_fetch):
            continue
        travel_from = previous_end.get(stop.engineer_id)
        previous_end[stop.engineer_id] = stop.end_at
        item: dict[str, Any] = {
            "kind": stop.kind,
            "seq": stop.seq,
            "travel_start": _iso(travel_from) if travel_from and travel_from < stop.arrival_at else None,
            "eta": _iso(stop.arrival_at),
            "start": _iso(stop.start_at),
            "end": _iso(stop.end_at),
            "late_s": stop.late_s,
        }
        ends = stop.end_at
        if stop.wo_id is not None:
            # A visit taken off the plan (cancelled, given to someone else by hand) no longer shows here.
            if (
                stop.wo_engineer_id not in (None, stop.engineer_id)
                or stop.status == WorkOrderStatus.cancelled.value
            ):
                continue
            moved = plan_moved.moved_start(stop.status, stop.planned_start_at, stop.start_at, day, tz)
            if moved is plan_moved.ELSEWHERE:
                continue  # scheduled by hand onto another day: shown there (`_scheduled_outside_the_plan`)
            if moved is not None:
                # Scheduled by hand since the plan was published: the re-plan that keeps it there
                # is queued (seconds with workers, or a proposal waiting to be accepted); until it
                # publishes, the board draws the visit where the route page and the notice put it.
                ends = moved + (stop.end_at - stop.start_at)
                item.update(eta=_iso(moved), start=_iso(moved), end=_iso(ends))
                item["travel_start"] = None
            _eta_as_told(item, stop, None if moved else stop.arrival_at)
            started = progress(
                stop.status,
                stop.wo_eta_at,
                stop.checked_in_at,
                stop.checked_out_at,
                stop.end_at - stop.start_at,
                tz,
            )
            if started is not None:
                _as_it_happened(item, started, drawn_end.get(stop.engineer_id))
                ends = started.end
            item.update(
                work_order_id=stop.wo_id,
                number=stop.number,
                ticket_id=stop.ticket_id,
                version=stop.version,
                status=stop.status,
                priority=stop.priority,
                customer=stop.customer or "",
                lat=stop.latitude,
                lon=stop.longitude,
                pinned=False,  # `_mark_pins`
                pin_note=None,
                at_risk=stop.at_risk_reason if stop.at_risk_since else None,
                sla_due=_iso(stop.sla_deadline_at),
            )
            shown[stop.wo_id] = plan_pins.Visit(
                stop.wo_id, stop.status, stop.wo_engineer_id, stop.planned_start_at
            )
        elif stop.warehouse is not None:
            item.update(warehouse=stop.warehouse, lat=stop.warehouse_lat, lon=stop.warehouse_lon)
        drawn_end[stop.engineer_id] = ends
        row["stops"].append(item)
    _scheduled_outside_the_plan(
        session, rows, region_id, datetime.combine(day, time(0), tzinfo=tz), run.id if run else -1, shown
    )
    for row in rows.values():
        row["tracks"] = _stack(row["stops"])
    names = {e.id: e.name for e in engineers}
    _mark_pins(session, rows, shown, run, names, tz)
    # Absent for part of the day: the Assign lists put them after those who are there (the stored
    # reasons of the visits such an absence left out name it: reasons.left_out).
    leaving = {
        e.id: _part_day(e.name, day, a, tz)
        for e in engineers
        if (a := absences.get(e.id)) is not None and not day_part.whole_day(a.from_time, a.until_time)
    }
    unassigned = _unassigned(session, region_id, day, run, names)
    # The Assign lists name each engineer once, on their row (`assign_text`); a visit's list is
    # engineer ids in groups. Named options per visit were ~10 000 at 100 engineers / 1 000
    # visits, sent and drawn as <option>s on the page's first render (docs/board.md).
    people = list(rows.values())
    for row in people:
        row["assign_text"] = _assign_text(row, leaving)
    now = utcnow()
    for u in unassigned:
        u["choices"] = _choices(people, u, leaving, now)
    return {
        "region": {"id": region.id, "code": region.code, "name": region.name, "timezone": region.timezone},
        "day": day.isoformat(),
        "run": None
        if run is None
        else {"id": run.id, "kind": run.kind, "status": run.status, "published_at": _iso(run.published_at)},
        "engineers": list(rows.values()),
        "unassigned": unassigned,
        "warehouses": [
            {"id": w.id, "name": w.name, "lat": w.latitude, "lon": w.longitude}
            for w in session.scalars(
                select(Warehouse).where(Warehouse.region_id == region_id).order_by(Warehouse.name)
            )
        ],
    }


def _eta_as_told(item: dict[str, Any], stop: Any, arrival: datetime | None) -> None:
    """The ETA of a visit not yet started as the engineer's route and the customer's notice give it
    (the visit's `eta_at`: scheduled by hand, its start; on the way, the engineer's own), not the
    engine's arrival: a visit kept at 13:00 that a re-plan reaches at 12:30 read "ETA 12:30" here
    while the route and the notice said 13:00. The engine's `arrival` (None: the visit was moved
    since), when earlier, is kept apart: the engineer waits from then, and the travel line ends
    there."""
    told = stop.wo_eta_at
    if told is None or stop.status not in (WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value):
        return
    told = told if told.tzinfo else told.replace(tzinfo=UTC)
    if (
        arrival is not None
        and stop.status == WorkOrderStatus.scheduled.value
        and (arrival if arrival.tzinfo else arrival.replace(tzinfo=UTC)) < told
    ):
        item["arrival"] = _iso(arrival)
    item["eta"] = _iso(told)


def _as_it_happened(item: dict[str, Any], started: Progress, before: datetime | None) -> None:
    """Draw a started visit at its actual times (checked in → checked out; on the way: from the ETA
    the engineer gave), its words saying what happened, the plan's slot kept apart (`planned`) for
    comparison. Checked in: no travel is drawn before it (when the engineer set off is not known,
    the plan's travel line was hours off) and the plan's lateness is moot (the visit has arrived,
    as the route says). On the way: the travel runs from where the row's last block ends.
    `before`: that end, as drawn."""
    item["planned"] = {"start": item["start"], "end": item["end"]}
    item.update(start=_iso(started.start), end=_iso(started.end), progress=started.words)
    if started.arrived:
        item.update(eta=_iso(started.start), travel_start=None, late_s=0)
        item.pop("arrival", None)
    else:
        item["travel_start"] = _iso(before) if before is not None and before < started.start else None


def _stack(stops: list[dict[str, Any]]) -> int:
    """Give each stop drawn on the row a `track` (0: the lane's first line) so that stops at the same
    time are drawn one under the other, each visible and clickable: two visits kept by hand at
    17:00 on one engineer were drawn on top of each other and only one could be opened. Returns
    the row's number of tracks (1 when nothing overlaps). Breaks are not drawn as blocks."""
    ends: list[str] = []  # the end of the last block on each track (ISO times in UTC sort as text)
    for item in sorted(stops, key=lambda s: (s["start"] or "", s["end"] or "")):
        if item["kind"] == "break" or item["start"] is None:
            item["track"] = 0
            continue
        track = next((i for i, end in enumerate(ends) if end <= item["start"]), len(ends))
        if track == len(ends):
            ends.append(item["end"] or item["start"])
        else:
            ends[track] = item["end"] or item["start"]
        item["track"] = track
    return max(1, len(ends))


def _mark_pins(
    session: Session,
    rows: dict[int, dict[str, Any]],
    shown: dict[int, plan_pins.Visit],
    run: PlanRun | None,
    names: dict[int, str],
    tz: ZoneInfo,
) -> None:
    """`pinned` and `pin_note` of each visit on the rows: whether the next plan keeps it with its
    engineer (and, scheduled by hand, at its start), and why. Only the plan's stops' `locked`
    flag was shown: a visit scheduled by hand at 13:30, which every re-plan keeps there, looked
    like any other and could not be released."""
    found = plan_pins.notes(session, list(shown.values()), run.id if run else None, names, tz)
    for row in rows.values():
        for item in row["stops"]:
            if "work_order_id" in item:
                note = found.get(item["work_order_id"])
                item["pinned"], item["pin_note"] = note is not None, note


def _scheduled_outside_the_plan(
    session: Session,
    rows: dict[int, dict[str, Any]],
    region_id: int,
    start: datetime,
    run_id: int,
    visits: dict[int, plan_pins.Visit],
) -> None:
    """Visits scheduled for this day that the published plan does not hold (scheduled by hand, or
    on a day no plan was published for): on their engineer's row, in time order, marked
    ``outside_plan``. The board showed them nowhere, and "Plan the day" then called them "newly
    served" (found walking the demo). Visits of the day already finished that a later plan does
    not hold (a re-plan after a morning's work plans only what is left) are shown where they
    were done, without the mark: they vanished from the board while the engineer's phone listed
    them."""
    shown = {item.get("work_order_id") for row in rows.values() for item in row["stops"]}
    zone = start.tzinfo or UTC  # the region's (`start`: the day's midnight there)
    begins = func.coalesce(WorkOrder.planned_start_at, WorkOrder.eta_at)
    found = session.execute(
        select(WorkOrder, Site, Account.name)
        .options(_BOARD_VISIT, _BOARD_SITE)
        .join(Site, Site.id == WorkOrder.site_id)
        .join(Account, Account.id == WorkOrder.account_id)
        .where(
            # the plan's own visits (on their engineer's row already): reading them twice cost a
            # third of the board's time
            ~exists().where(
                PlanStop.plan_run_id == run_id,
                PlanStop.work_order_id == WorkOrder.id,
                PlanStop.engineer_id == WorkOrder.engineer_id,
            ),
            WorkOrder.region_id == region_id,
            WorkOrder.engineer_id.in_(list(rows) or [-1]),
            WorkOrder.status.in_(LIVE + FINISHED),
            begins >= start,
            begins < start + timedelta(days=1),
        )
        .order_by(begins, WorkOrder.id)
    ).tuples()
    added = False
    for wo, site, customer in found:
        begin = wo.planned_start_at or wo.eta_at
        if wo.id in shown or begin is None or wo.engineer_id is None:
            continue
        finished = wo.status in FINISHED
        arrives = wo.checked_in_at or wo.eta_at or begin
        starts = arrives if finished else max(begin, arrives)  # a finished visit: when it was done
        length = timedelta(minutes=wo.duration_min)
        ends = wo.checked_out_at if finished and wo.checked_out_at else starts + length
        # started (on the way, checked in): where it happened, as on the plan's own rows; a visit
        # checked in early was drawn at its later start
        started = progress(wo.status, wo.eta_at, wo.checked_in_at, wo.checked_out_at, length, zone)
        if started is not None:
            arrives, starts, ends = started.start, started.start, started.end
        rows[wo.engineer_id]["stops"].append(
            {
                "kind": "job",
                "seq": None,
                "travel_start": None,
                "eta": _iso(arrives),
                "start": _iso(starts),
                "end": _iso(max(ends, starts)),
                "late_s": 0,
                "work_order_id": wo.id,
                "number": wo.number,
                "ticket_id": wo.ticket_id,
                "version": wo.version,
                "status": wo.status,
                "priority": wo.priority,
                "customer": customer or "",
                "lat": site.latitude,
                "lon": site.longitude,
                "pinned": False,  # `_mark_pins`
                "pin_note": None,
                "at_risk": wo.at_risk_reason if wo.at_risk_since else None,
                "sla_due": _iso(wo.sla_deadline_at),
                "outside_plan": not finished,
                **(
                    {}
                    if started is None
                    else {
                        "progress": started.words,
                        "planned": {"start": _iso(begin), "end": _iso(begin + length)},
                    }
                ),
            }
        )
        visits[wo.id] = plan_pins.Visit(wo.id, wo.status, wo.engineer_id, wo.planned_start_at)  # its pin mark
        added = True
    if added:
        for row in rows.values():
            row["stops"].sort(key=lambda item: item["start"] or "")


def _unassigned(
    session: Session,
    region_id: int,
    day: date,
    run: PlanRun | None,
    names: dict[int, str],
) -> list[dict[str, Any]]:
    """Work the published plan left out (with the reason its run stored: the one source the API,
    the explanation and exports read too) and open work the plan has not seen yet (created or
    unassigned after it was published). `names`: the region's engineers, {id: name}."""
    zone = ZoneInfo(session.get_one(Region, region_id).timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    reasons = {
        u.work_order_id: u
        for u in session.scalars(
            select(PlanUnassigned).where(PlanUnassigned.plan_run_id == (run.id if run else -1))
        )
    }
    found = list(
        session.execute(
            select(WorkOrder, Site, Account.name, Ticket.number)
            .join(Site, Site.id == WorkOrder.site_id)
            .join(Account, Account.id == WorkOrder.account_id)
            .join(Ticket, Ticket.id == WorkOrder.ticket_id)
            .where(
                WorkOrder.region_id == region_id,
                WorkOrder.status == WorkOrderStatus.unscheduled.value,
                # promised for this day, or not promised at all
                WorkOrder.appointment_start_at.is_(None)
                | (
                    (WorkOrder.appointment_start_at >= start)
                    & (WorkOrder.appointment_start_at < start + timedelta(days=1))
                ),
                (WorkOrder.id.in_(list(reasons) or [-1])) | (WorkOrder.engineer_id.is_(None)),
            )
            .order_by(func.coalesce(WorkOrder.sla_deadline_at, WorkOrder.created_at), WorkOrder.id)
            .limit(500)
        ).tuples()
    )
    # The earliest the visit may start that day (its appointment, else its first time window):
    # an engineer absent from before then cannot take it.
    earliest: dict[int, datetime] = dict(
        session.execute(
            select(WorkOrderWindow.work_order_id, func.min(WorkOrderWindow.starts_at))
            .where(
                WorkOrderWindow.work_order_id.in_([wo.id for wo, *_ in found] or [-1]),
                WorkOrderWindow.ends_at > start,
                WorkOrderWindow.starts_at < start + timedelta(days=1),
            )
            .group_by(WorkOrderWindow.work_order_id)
        )
        .tuples()
        .all()
    )
    out = []
    for wo, site, customer, ticket_number in found:
        why = reasons.get(wo.id)
        begins = wo.appointment_start_at or earliest.get(wo.id)
        out.append(
            {
                "work_order_id": wo.id,
                "number": wo.number,
                "ticket_id": wo.ticket_id,
                "version": wo.version,
                "ticket": ticket_number,
                "priority": wo.priority,
                "customer": customer,
                "skills": wo.required_skills or [],
                "duration_min": wo.duration_min,
                "reason": why.reason if why else "not_planned_yet",
                # rows stored before reasons named engineers say "E12 has the skills…"
                "detail": readable(why.detail, names)
                if why
                else "created or unassigned after the plan was published"
                if run
                else "no plan is published for this day yet",
                "sla_due": _iso(wo.sla_deadline_at),
                # the text the page shows, on the region's clock: the server-rendered rows and the
                # ones board.js redraws after a poll read this one field (the redraw said
                # "2026-12-11 09:38 UTC" beside rows saying "Fri 11 Dec 10:38")
                "sla_due_local": _local_text(wo.sla_deadline_at, zone),
                "at_risk": wo.at_risk_reason if wo.at_risk_since else None,
                "lat": site.latitude,
                "lon": site.longitude,
                "starts": _iso(begins),
            }
        )
    return out


# An engineer absent for part of the day: name, the instant they go for the rest of the day
# (None: they come back, a late start or a gap) and the words ("absent until 10:30").
PartDay = tuple[str, datetime | None, str]


def _absent_text(absence: Absence | None) -> str | None:
    """'sickness', 'sickness from 13:00', 'dentist until 10:30', 'training 13:00–15:00'."""
    if absence is None:
        return None
    when = day_part.text(absence.from_time, absence.until_time)
    return f"{absence.reason} {when}" if when else absence.reason


def _absent_band(day: date, shift: Shift | None, absence: Absence | None, tz: ZoneInfo) -> dict[str, Any]:
    """The stretch of the row the "Absent" band covers. `absent_from`: the time it starts (None: the
    lane's start) — a late start ("until 10:30") starts where the day's shift would have, so the
    morning it takes shows; `absent_until`: the time it ends (None: the lane's end — the whole day,
    or going home early). Two times or nulls per row (`absent_until` adds ~2 KiB to the ~480 KiB
    of 100 engineers; the original shift start is not sent apart: a late start's band begins
    there)."""
    if absence is None:
        return {"absent_from": None, "absent_until": None}
    starts = absence.from_time
    if (
        starts is None
        and absence.until_time is not None
        and shift is not None
        and shift.starts < absence.until_time
    ):
        starts = shift.starts
    return {"absent_from": _at(day, starts, tz), "absent_until": _at(day, absence.until_time, tz)}


def _shift_row(day: date, shift: Shift, absence: Absence | None, tz: ZoneInfo) -> dict[str, Any]:
    starts, ends = shift.starts, _ends(shift.ends, absence)  # absent from a time: the shift ends there
    gap = None
    if absence is not None and absence.until_time is not None:  # a late start, or a gap
        left = day_part.remaining(shift.starts, shift.ends, absence.from_time, absence.until_time)
        starts, ends, gap = left if left is not None else (shift.ends, shift.ends, None)
    return {
        "start": _at(day, starts, tz),
        "end": _at(day, ends, tz),
        "break_start": _at(day, shift.break_starts, tz),
        "break_end": _at(day, shift.break_ends, tz),
        "gap_start": _at(day, gap[0], tz) if gap else None,
        "gap_end": _at(day, gap[1], tz) if gap else None,
    }


def _part_day(name: str, day: date, absence: Absence, tz: ZoneInfo) -> PartDay:
    gone = absence.from_time if absence.until_time is None else None
    at = datetime.combine(day, gone, tzinfo=tz) if gone is not None else None
    return name, at, f"absent {day_part.text(absence.from_time, absence.until_time)}"


def _assign_text(row: dict[str, Any], leaving: dict[int, PartDay]) -> str:
    """An engineer as every Assign list names them: the name, with why they may not be there kept
    short ("Name (sickness)" absent all day, "Name (absent from 10:30)", "Name (absent until
    10:30)", "Name (absent 13:00–15:00)"). An engineer absent from 10:30 was preselected for an
    afternoon visit, "Bernhard Schuster (absent: sickne…" cut off at 1280 px."""
    if row["absent"] and row["shift"] is None:
        return f"{row['name']} ({row['absent']})"
    if row["id"] in leaving:
        name, _, words = leaving[row["id"]]
        return f"{name} ({words})"
    return str(row["name"])


def _choices(
    rows: list[dict[str, Any]], visit: dict[str, Any], leaving: dict[int, PartDay], now: datetime
) -> list[dict[str, Any]]:
    """The Assign list of an unassigned visit: groups of engineer ids (`label` None: no group; the
    texts are the engineers' `assign_text`), the first id the one a dispatcher would pick:
    engineers with its skills who are there, then those with its skills away for part of the day,
    those lacking a skill (in the same order), those absent at its time, those absent all day.
    Every active engineer of the region is in exactly one group; empty groups are left out.
    `now`: what is left of today's shifts starts there."""
    skills = set(visit["skills"])
    starts = datetime.fromisoformat(visit["starts"]) if visit.get("starts") else None
    groups: dict[str, list[tuple[int, int]]] = {"able": [], "lacking": [], "then": [], "away": []}
    for r in rows:
        if r["absent"] and r["shift"] is None:
            groups["away"].append((0, r["id"]))
            continue
        able = skills <= set(r["skills"])
        later = r["id"] in leaving
        if later:
            name, at, _ = leaving[r["id"]]
            # gone by its time: the visit cannot be done before they leave (its appointment or
            # window starts too late, or what is left of the shift before then is shorter than
            # the visit, travel aside), or the reason it was left out names them ("… is absent
            # from 10:00 to 17:00"). A visit without a time is not "at any time": a 3-hour job and
            # an engineer leaving at 10:00 of a shift from 08:00 was preselected, and refused.
            named = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", visit["detail"] or "")
            if (
                at is not None and _time_before(r, at, starts, now) < timedelta(minutes=visit["duration_min"])
            ) or named:
                groups["then"].append((0 if able else 1, r["id"]))
                continue
        groups["able" if able else "lacking"].append((1 if later else 0, r["id"]))
    labels = {
        "able": None,
        "lacking": f"Lacking a skill ({', '.join(visit['skills'])})",
        "then": "Absent at its time",
        "away": "Absent all day",
    }
    return [
        {
            "label": labels[key],
            # sorted() is stable: within a rank the rows keep their order (by name)
            "ids": [eid for _, eid in sorted(members, key=lambda m: m[0])],
        }
        for key, members in groups.items()
        if members
    ]


def _time_before(row: dict[str, Any], leaves: datetime, starts: datetime | None, now: datetime) -> timedelta:
    """How long an engineer leaving at `leaves` is there for a visit before then: from the start
    of their shift, of the visit's time (`starts`) or now, whichever is latest."""
    begins = [now] if starts is None else [now, starts]
    if row["shift"] and row["shift"]["start"]:
        begins.append(datetime.fromisoformat(row["shift"]["start"]))
    return leaves - max(begins)


def encode(data: dict[str, Any]) -> bytes:
    """The data as `/board/data` sends it (the encoding of Starlette's JSONResponse). The route
    sends these bytes and tags them with `fingerprint_of`: the data was encoded twice per request
    (sorted for the tag, then for the body), ~10 ms of ~500 KiB each, a 304 poll included."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def fingerprint_of(body: bytes) -> str:
    """The ETag of encoded data: equal data, equal tag (the data is built in a stable order)."""
    return hashlib.sha256(body).hexdigest()[:32]


def fingerprint(data: dict[str, Any]) -> str:
    """The page's ETag, the one `/board/data` answers with for the same data."""
    return fingerprint_of(encode(data))


def set_pin(session: Session, *, work_order: WorkOrder, pinned: bool, actor: User | None = None) -> None:
    """Pin a planned visit to its engineer in later runs: the published stop's `locked` flag, which
    the next run loads as `Job.pinned_engineer`. Unpinning releases every pin, the time set by
    hand too (`pins.unpin`): it only cleared the flag, and a visit scheduled by hand stayed put."""
    if not pinned:
        plan_pins.unpin(session, work_order=work_order, actor=actor)
        return
    if work_order.engineer_id is None or work_order.planned_start_at is None:
        raise Unprocessable(
            f"Work order {work_order.number} is not planned, so there is nothing to pin.",
            errors=[{"field": "work_order_id", "message": "not planned"}],
        )
    stop = session.scalar(
        select(PlanStop)
        .join(PlanDay, PlanDay.current_run_id == PlanStop.plan_run_id)
        .where(PlanStop.work_order_id == work_order.id, PlanStop.engineer_id == work_order.engineer_id)
    )
    if stop is None:
        raise Unprocessable(
            f"Work order {work_order.number} is not on a published plan.",
            errors=[{"field": "work_order_id", "message": "not on a published plan"}],
        )
    stop.locked = True
    work_order.updated_at = utcnow()  # bumps the version: a concurrent edit of this visit conflicts


def _ends(ends: time, absence: Absence | None) -> time:
    return min(ends, absence.from_time) if absence is not None and absence.from_time else ends
