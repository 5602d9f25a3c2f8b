"""The queries behind `app.planning.service.load`: the rows of a region's day, read in batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy import ARRAY, ColumnElement, Integer, and_, any_, exists, literal, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from app.models import (
    Absence,
    BusinessCalendar,
    Engineer,
    OnCallShift,
    PlanRun,
    PlanStop,
    ReservationStatus,
    Shift,
    Site,
    StockLevel,
    StockReservation,
    Ticket,
    TicketStatus,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderPart,
    WorkOrderStatus,
    WorkOrderWindow,
)

PLANNABLE = (WorkOrderStatus.unscheduled.value, WorkOrderStatus.scheduled.value)
STARTED = (WorkOrderStatus.en_route.value, WorkOrderStatus.on_site.value)
TICKET_DONE = (TicketStatus.resolved.value, TicketStatus.closed.value)
# An absence without a time of day takes the whole day (`part_absences`: the others).
WHOLE_DAY = (Absence.from_time.is_(None), Absence.until_time.is_(None))
# A reported position older than this says nothing about where the engineer is now.
POSITION_FRESH = timedelta(hours=2)


def among(session: Session, column: QueryableAttribute[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL one array parameter (`= ANY(...)`). The board asks this of
    every visit on its rows: 1 000 ids as 1 000 parameters were rendered by SQLAlchemy and parsed
    by psycopg on every request (a long query is not cached), ~5 ms each time (docs/board.md)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(Integer)))
    return column.in_(ids)


@dataclass(frozen=True)
class FixedVisit:
    """A visit that started (or finished) before `as_of`: kept as it is, never moved."""

    work_order_id: int
    engineer_id: int
    start_at: datetime
    end_at: datetime
    status: str


def day_work_orders(
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
    # Nothing is planned for a resolved or closed case, even if one of its visits was left open
    # (closing cancels them: docs/tickets.md); this guard keeps a stray row off the routes.
    case_open = ~exists().where(Ticket.id == WorkOrder.ticket_id, Ticket.status.in_(TICKET_DONE))
    wanted: ColumnElement[bool] = and_(WorkOrder.status.in_(PLANNABLE), case_open)
    if as_of is not None:
        in_day = or_(
            and_(WorkOrder.planned_start_at >= ref, WorkOrder.planned_start_at < day_end),
            and_(WorkOrder.checked_in_at >= ref, WorkOrder.checked_in_at < day_end),
        )
        frozen = (*STARTED, WorkOrderStatus.done.value, WorkOrderStatus.needs_follow_up.value)
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
                w.status == WorkOrderStatus.scheduled
                and w.planned_start_at is not None
                and not ref <= w.planned_start_at < day_end
                and not pull_forward(w, day_end)
            ):
                continue
        else:
            at = w.checked_in_at or w.planned_start_at
            if w.engineer_id is None or at is None or not ref <= at < day_end:
                continue
        out.append(w)
    return out


def pull_forward(w: WorkOrder, day_end: datetime) -> bool:
    """A visit at risk, planned on a later day though due before this day ends: this day's plan
    may serve it in time (on-call cover added since, say). If it cannot, it keeps its later slot."""
    return (
        w.at_risk_since is not None
        and w.planned_start_at is not None
        and w.planned_start_at >= day_end
        and w.sla_deadline_at is not None
        and w.sla_deadline_at < day_end
    )


def windows(session: Session, ids: list[int]) -> dict[int, list[tuple[datetime, datetime]]]:
    out: dict[int, list[tuple[datetime, datetime]]] = {}
    for row in session.scalars(select(WorkOrderWindow).where(WorkOrderWindow.work_order_id.in_(ids))):
        out.setdefault(row.work_order_id, []).append((row.starts_at, row.ends_at))
    return out


def parts(session: Session, ids: list[int]) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = {}
    for row in session.scalars(select(WorkOrderPart).where(WorkOrderPart.work_order_id.in_(ids))):
        if row.quantity > 0:
            out.setdefault(row.work_order_id, {})[row.part_id] = row.quantity
    return out


# A dispatcher's "Unpin" on the board (`app.planning.pins.unpin`): from this event on the planner
# chooses the visit's engineer and time again, as if it had never been scheduled by hand. A later
# schedule by hand pins it anew.
UNPINNED = "unpinned"


@dataclass(frozen=True)
class HandPin:
    """A visit standing where a person put it: engineer and start, who did it and when."""

    engineer_id: int
    start: datetime
    actor_id: int
    at: datetime


def locked(session: Session, run_id: int | None, candidates: list[int]) -> set[int]:
    """Work orders a dispatcher put on an engineer by hand: pinned in the published plan (an
    assignment through the planner), or scheduled by a person (the work-order API) after that
    plan was published and not unpinned since. They stay with their engineer."""
    pinned: set[int] = set()
    since = None
    if run_id is not None:
        pinned = set(
            session.scalars(
                select(PlanStop.work_order_id).where(
                    PlanStop.plan_run_id == run_id, PlanStop.locked, PlanStop.work_order_id.is_not(None)
                )
            )
        )
        since = session.scalar(select(PlanRun.published_at).where(PlanRun.id == run_id))
    by_hand = (
        select(WorkOrderEvent.work_order_id, WorkOrderEvent.kind)
        .where(
            among(session, WorkOrderEvent.work_order_id, candidates),
            or_(
                # a plan's own events have no actor
                and_(WorkOrderEvent.kind == "scheduled", WorkOrderEvent.actor_id.is_not(None)),
                WorkOrderEvent.kind == UNPINNED,
            ),
        )
        .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
    )
    if since is not None:
        by_hand = by_hand.where(WorkOrderEvent.at > since)
    last = {wo_id: kind for wo_id, kind in session.execute(by_hand).tuples()}
    return pinned | {wo_id for wo_id, kind in last.items() if kind == "scheduled"}


class Placed(Protocol):
    """What `hand_pins` reads of a visit: a WorkOrder, or the board's row of one (`pins.Visit`)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def engineer_id(self) -> int | None: ...
    @property
    def planned_start_at(self) -> datetime | None: ...


def hand_pins(session: Session, work_orders: Sequence[Placed]) -> dict[int, HandPin]:
    """Scheduled visits that stand where a dispatcher put them by hand (engineer and start): the
    last `scheduled` event is a person's (a plan's and an undo's own have no actor), names the
    engineer the visit has now, and no "Unpin" came after it. Automatic re-plans keep them there
    (`service.load`); the board marks them."""
    rows = {w.id: w for w in work_orders if w.status == WorkOrderStatus.scheduled}
    rows = {i: w for i, w in rows.items() if w.engineer_id is not None and w.planned_start_at is not None}
    if not rows:
        return {}
    last: dict[int, WorkOrderEvent] = {}
    for ev in session.scalars(
        select(WorkOrderEvent)
        .where(
            among(session, WorkOrderEvent.work_order_id, sorted(rows)),
            WorkOrderEvent.kind.in_(("scheduled", UNPINNED)),
        )
        .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
    ):
        last[ev.work_order_id] = ev
    out: dict[int, HandPin] = {}
    for wo_id, ev in last.items():
        w = rows[wo_id]
        if ev.kind != "scheduled" or ev.actor_id is None:
            continue
        if (ev.data or {}).get("engineer_id") == w.engineer_id:
            assert w.engineer_id is not None and w.planned_start_at is not None
            out[wo_id] = HandPin(w.engineer_id, w.planned_start_at, ev.actor_id, ev.at)
    return out


def hand_timed(session: Session, work_orders: list[WorkOrder]) -> dict[int, tuple[int, datetime]]:
    """`hand_pins` as the planner takes them: id -> (engineer id, start)."""
    return {i: (p.engineer_id, p.start) for i, p in hand_pins(session, work_orders).items()}


def engineers(
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
                Absence.day == day,
                *WHOLE_DAY,  # part of the day: works the rest (`part_absences`)
                Absence.engineer_id.in_([e.id for e, _ in rows]),
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


def part_absences(
    session: Session, day: date, engineer_ids: list[int]
) -> dict[int, tuple[time | None, time | None]]:
    """Engineers absent for part of `day`: engineer id -> (from, until) on the region's clock,
    either open (None): sent home sick at 13:00 (13:00, None), at the dentist until 10:30 (None,
    10:30), training (13:00, 15:00). Whole-day absences are not here (`engineers` leaves them out)."""
    rows = session.execute(
        select(Absence.engineer_id, Absence.from_time, Absence.until_time).where(
            Absence.day == day,
            or_(Absence.from_time.is_not(None), Absence.until_time.is_not(None)),
            Absence.engineer_id.in_(engineer_ids),
        )
    ).tuples()
    return {e: (a, b) for e, a, b in rows}


def available_stock(
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


def frozen_day(
    session: Session,
    started: list[WorkOrder],
    sites: dict[int, Site],
    engineers: list[tuple[Engineer, Shift | None]],  # None: on call only, no shift that day
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
            if (
                w.status == WorkOrderStatus.en_route
            ):  # still driving there: the visit starts at its ETA at the earliest
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


@dataclass(frozen=True)
class Cover:
    """One stretch of on-call cover inside the plan day (outside the engineer's shift)."""

    engineer: Engineer
    key: str  # the on-call part of the engine key: oc<shift id>.<stretch>
    starts_at: datetime
    ends_at: datetime


def on_call(
    session: Session,
    region_id: int,
    day: date,
    ref: datetime,
    day_end: datetime,
    shifts: dict[int, tuple[datetime, datetime]],
    away: dict[int, list[tuple[datetime, datetime]]] | None = None,
) -> list[Cover]:
    """On-call cover of the region's active engineers during [ref, day_end), minus their regular
    shift that day (`shifts`: engineer id -> shift start and end), so nobody is planned twice.
    An engineer absent for part of the day (`away`: from 13:00 on, until 10:30, 13:00–15:00)
    covers nothing then."""
    rows = session.execute(
        select(OnCallShift, Engineer)
        .join(Engineer, Engineer.id == OnCallShift.engineer_id)
        .where(
            Engineer.region_id == region_id,
            Engineer.active,
            OnCallShift.starts_at < day_end,
            OnCallShift.ends_at > ref,
        )
        .order_by(OnCallShift.engineer_id, OnCallShift.starts_at)
    ).all()
    absent = set(
        session.scalars(
            select(Absence.engineer_id).where(
                Absence.day == day,
                *WHOLE_DAY,
                Absence.engineer_id.in_([e.id for _, e in rows]),
            )
        )
    )
    out: list[Cover] = []
    for oc, e in rows:
        if e.id in absent:
            continue
        pieces = [(max(oc.starts_at, ref), min(oc.ends_at, day_end))]
        for taken in ([shifts[e.id]] if e.id in shifts else []) + (away or {}).get(e.id, []):
            pieces = _minus(pieces, taken)
        pieces = [(x, y) for x, y in pieces if y - x >= timedelta(minutes=30)]
        out += [Cover(e, f"oc{oc.id}.{n}", x, y) for n, (x, y) in enumerate(pieces)]
    return out


def _minus(
    pieces: list[tuple[datetime, datetime]], taken: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    """`pieces` without the stretch `taken` (the shift, or an absence), each piece cut in two at most."""
    t0, t1 = taken
    if t1 <= t0:  # a shift an absence took whole
        return pieces
    out = []
    for a, b in pieces:
        out += [(a, min(b, t0)), (max(a, t1), b)] if t0 < b and t1 > a else [(a, b)]
    return [(a, b) for a, b in out if b > a]


def arrival_settled(session: Session, work_orders: list[WorkOrder]) -> set[int]:
    """Work orders whose ticket already recorded its arrival on site: a follow-up visit answers for no
    arrival due time (the SLA is met or missed for good), so the plan gives it none (as at-risk does)."""
    ids = [w.id for w in work_orders if w.sla_deadline_at is not None]
    return _by_ticket(session, ids, Ticket.arrived_at.is_not(None))


def always_open(session: Session, work_orders: list[WorkOrder]) -> set[int]:
    """Work orders whose ticket's SLA calendar is 24x7."""
    calendar = select(BusinessCalendar.id).where(BusinessCalendar.always_open)
    return _by_ticket(session, [w.id for w in work_orders], Ticket.sla_calendar_id.in_(calendar))


def _by_ticket(session: Session, ids: list[int], condition: ColumnElement[bool]) -> set[int]:
    """The work orders of ``ids`` whose ticket meets ``condition``."""
    if not ids:
        return set()
    stmt = select(WorkOrder.id).join(Ticket, Ticket.id == WorkOrder.ticket_id)
    return set(session.scalars(stmt.where(WorkOrder.id.in_(ids), condition)))
