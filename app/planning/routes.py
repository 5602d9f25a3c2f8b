"""An engineer's day as the field app shows it: ordered stops of the published plan with ETA,
address, coordinates, customer and asset, parts (and where they come from), navigation links."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Asset,
    Contact,
    Engineer,
    Part,
    PlanRoute,
    PlanRun,
    PlanStop,
    ProductModel,
    Region,
    ReservationStatus,
    Site,
    StockLocation,
    StockReservation,
    Ticket,
    Warehouse,
    WorkOrder,
    WorkOrderPart,
    WorkOrderStatus,
)
from app.planning import keys as plan_keys
from app.planning import moved as plan_moved
from app.planning import runs as plan_runs
from app.planning.schemas import (
    AssetSummary,
    CustomerSummary,
    Navigation,
    PartLine,
    RouteRead,
    StopRead,
)
from dispatch.matrix import GreatCircle

GONE = (WorkOrderStatus.cancelled.value, WorkOrderStatus.unscheduled.value)
REPORTED = (WorkOrderStatus.done.value, WorkOrderStatus.needs_follow_up.value)


def navigation(lat: float, lon: float, label: str) -> Navigation:
    return Navigation(
        geo=f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(label)})",
        maps_url=f"https://www.google.com/maps/dir/?api=1&destination={lat:.6f},{lon:.6f}",
    )


class _Identified(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Identified)


def _by_id(session: Session, model: type[Row], ids: Iterable[int | None]) -> dict[int, Row]:
    """The rows of `model` with these ids (None skipped), by id, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    (primary_key,) = inspect(model).primary_key  # every table here has one integer id
    return {o.id: o for o in session.scalars(select(model).where(primary_key.in_(wanted)))}


@dataclass(frozen=True)
class PlannedDay:
    """What the published plan gives one engineer on one day, plus visits assigned by hand since."""

    timezone: str
    run: PlanRun | None
    stops: list[PlanStop]
    route: PlanRoute | None
    extra: list[WorkOrder]  # given to this engineer by hand after the plan was published
    day: date

    @property
    def work_order_ids(self) -> set[int]:
        return {s.work_order_id for s in self.stops if s.work_order_id} | {w.id for w in self.extra}


@dataclass(frozen=True)
class RouteRows:
    """Every row the route shows, loaded in bulk and keyed by id (no query per stop)."""

    work_orders: dict[int, WorkOrder]
    sites: dict[int, Site]
    accounts: dict[int, Account]
    assets: dict[int, Asset]
    models: dict[int, ProductModel]
    tickets: dict[int, Ticket]
    contacts: dict[int, Contact]
    reservations: list[StockReservation]  # not released
    needs: dict[int, list[WorkOrderPart]]  # by work order
    parts: dict[int, Part]
    warehouse_by_location: dict[int, Warehouse]  # warehouse stock locations of the reservations
    warehouses: dict[int, Warehouse]  # of the pickup stops


def engineer_route(session: Session, *, engineer: Engineer, day: date) -> RouteRead:
    planned = _planned_day(session, engineer, day)
    rows = _load_rows(session, planned)
    route_row, run = planned.route, planned.run
    stops = _stops(rows, planned, engineer)
    departure_at, return_at, travel_km = (
        (route_row.departure_at, route_row.return_at, round(route_row.travel_m / 1000, 1))
        if route_row is not None and _as_planned(rows, planned, engineer)
        else _drive(engineer, stops)
    )
    return RouteRead(
        engineer_id=engineer.id,
        engineer_name=engineer.name,
        date=day,
        timezone=planned.timezone,
        plan_run_id=run.id if run else None,
        published_at=run.published_at if run else None,
        departure_at=departure_at,
        return_at=return_at,
        travel_km=travel_km,
        stops=stops,
        pickups=_pickups(rows, engineer),
    )


def _as_planned(rows: RouteRows, planned: PlannedDay, engineer: Engineer) -> bool:
    """Whether the engineer's visits still stand where the published plan put them: none added
    by hand, none taken off or given a new start since. Else the plan's leave/back/km describe
    another day than the stops shown."""
    if any(w.id not in {s.work_order_id for s in planned.stops} for w in planned.extra):
        return False
    for st in planned.stops:
        if st.kind != "job":
            continue
        w = rows.work_orders.get(st.work_order_id or -1)
        if w is None or w.engineer_id != engineer.id or w.status in GONE or w.planned_start_at != st.start_at:
            return False
    return True


Header = tuple[datetime | None, datetime | None, float | None]  # leave, back, km


def _drive(engineer: Engineer, stops: list[StopRead]) -> Header:
    """Leave, back and km of the stops as they stand now, driven from home and back at the
    planner's own travel model (as `history` prices a day): the day as scheduled by hand."""
    placed = [s for s in stops if s.latitude is not None and s.longitude is not None]
    if not placed:
        return None, None, None
    home = (engineer.home_latitude, engineer.home_longitude)
    points = [home, *((s.latitude, s.longitude) for s in placed), home]
    matrix = GreatCircle().matrix(points)  # type: ignore[arg-type]
    legs = range(len(points) - 1)
    legs_m = [int(matrix.distance_m[i, i + 1]) for i in legs]
    legs_s = [int(matrix.duration_s[i, i + 1]) for i in legs]
    first, last = placed[0], placed[-1]
    return (
        first.eta - timedelta(seconds=legs_s[0]),
        last.end_at + timedelta(seconds=legs_s[-1]),
        round(sum(legs_m) / 1000, 1),
    )


def _planned_day(session: Session, engineer: Engineer, day: date) -> PlannedDay:
    region = session.get(Region, engineer.region_id)
    tz = region.timezone if region else "UTC"
    ref, end = plan_keys.day_reference(day, tz), plan_keys.day_reference(day + timedelta(days=1), tz)
    run = plan_runs.published_run(session, engineer.region_id, day)
    stops = (
        list(
            session.scalars(
                select(PlanStop)
                .where(PlanStop.plan_run_id == run.id, PlanStop.engineer_id == engineer.id)
                .order_by(PlanStop.seq)
            )
        )
        if run
        else []
    )
    route_row = (
        session.scalar(
            select(PlanRoute).where(PlanRoute.plan_run_id == run.id, PlanRoute.engineer_id == engineer.id)
        )
        if run
        else None
    )
    # A visit belongs to the day it was checked in on, else to its planned day (as a plan loads
    # it: `inputs.day_work_orders`): Tuesday's visit done on Monday is Monday's, before or
    # without a re-plan of either day.
    extra = list(
        session.scalars(
            select(WorkOrder).where(
                WorkOrder.engineer_id == engineer.id,
                or_(
                    and_(
                        WorkOrder.checked_in_at.is_(None),
                        WorkOrder.planned_start_at >= ref,
                        WorkOrder.planned_start_at < end,
                    ),
                    and_(WorkOrder.checked_in_at >= ref, WorkOrder.checked_in_at < end),
                ),
                WorkOrder.status.not_in(GONE),
            )
        )
    )
    return PlannedDay(timezone=tz, run=run, stops=stops, route=route_row, extra=extra, day=day)


def route_day(work_order: WorkOrder, tz: str) -> date | None:
    """The day whose route shows the visit: the day it was checked in on, else its planned day."""
    at = work_order.checked_in_at or work_order.planned_start_at
    return plan_keys.local_day(at, tz) if at is not None else None


def _load_rows(session: Session, planned: PlannedDay) -> RouteRows:
    wo_ids = planned.work_order_ids
    wos: dict[int, WorkOrder] = _by_id(session, WorkOrder, wo_ids)
    assets: dict[int, Asset] = _by_id(session, Asset, (w.asset_id for w in wos.values()))
    tickets: dict[int, Ticket] = _by_id(session, Ticket, (w.ticket_id for w in wos.values()))
    reservations = list(
        session.scalars(select(StockReservation).where(StockReservation.work_order_id.in_(wo_ids or [-1])))
    )
    reservations = [r for r in reservations if r.status != ReservationStatus.released]
    needs: dict[int, list[WorkOrderPart]] = {}
    for wp in session.scalars(select(WorkOrderPart).where(WorkOrderPart.work_order_id.in_(wo_ids or [-1]))):
        needs.setdefault(wp.work_order_id, []).append(wp)
    wh_by_loc = dict(
        session.execute(
            select(StockLocation.id, Warehouse)
            .join(Warehouse, Warehouse.id == StockLocation.warehouse_id)
            .where(StockLocation.id.in_({r.location_id for r in reservations} or {-1}))
        ).all()
    )
    return RouteRows(
        work_orders=wos,
        sites=_by_id(session, Site, (w.site_id for w in wos.values())),
        accounts=_by_id(session, Account, (w.account_id for w in wos.values())),
        assets=assets,
        models=_by_id(session, ProductModel, (a.product_model_id for a in assets.values())),
        tickets=tickets,
        contacts=_by_id(session, Contact, (t.contact_id for t in tickets.values())),
        reservations=reservations,
        needs=needs,
        parts=_by_id(
            session,
            Part,
            [r.part_id for r in reservations] + [wp.part_id for v in needs.values() for wp in v],
        ),
        warehouse_by_location=wh_by_loc,
        warehouses=_by_id(session, Warehouse, (s.warehouse_id for s in planned.stops)),
    )


def _line(rows: RouteRows, r: StockReservation) -> PartLine:
    wh = rows.warehouse_by_location.get(r.location_id)
    from_wh = wh is not None or r.picked_up_at is not None
    return PartLine.of(
        rows.parts[r.part_id],
        r.quantity,
        source="warehouse" if from_wh else "van",
        warehouse=wh,
        picked_up=r.picked_up_at is not None,
        work_order_id=r.work_order_id,
    )


def _visit(rows: RouteRows, seq: int, w: WorkOrder, st: PlanStop | None, day_start: datetime) -> StopRead:
    site, account = rows.sites[w.site_id], rows.accounts[w.account_id]
    asset = rows.assets.get(w.asset_id) if w.asset_id else None
    model = rows.models.get(asset.product_model_id) if asset else None
    ticket = rows.tickets.get(w.ticket_id)
    contact = rows.contacts.get(ticket.contact_id) if ticket and ticket.contact_id else None
    held = [_line(rows, r) for r in rows.reservations if r.work_order_id == w.id]
    # Nothing reserved (e.g. assigned by hand): show what the visit needs. Not once its report is
    # filed: then its consumed reservations are what it used, and none means it used none of them.
    if not held and w.status not in REPORTED:
        held = [
            PartLine.of(rows.parts[wp.part_id], wp.quantity, source="van", work_order_id=w.id)
            for wp in rows.needs.get(w.id, [])
        ]
    eta = w.eta_at or (st.arrival_at if st else None) or w.planned_start_at
    start = w.planned_start_at or (st.start_at if st else eta)
    assert eta is not None and start is not None
    end = st.end_at if st and st.start_at == start else start + timedelta(minutes=w.duration_min)
    if w.checked_in_at is not None:  # what happened, not what was planned: on site since check-in
        eta = start = w.checked_in_at
        end = w.checked_out_at or max(start + timedelta(minutes=w.duration_min), st.end_at if st else start)
    return StopRead(
        seq=seq,
        kind="job",
        eta=eta,
        start_at=start,
        end_at=end,
        late_s=st.late_s if st and st.start_at == start else _late_s(start, w, ticket, day_start),
        past_due_min=_past_due_min(eta, w, ticket),
        fixed=st.fixed if st else False,
        work_order_id=w.id,
        number=w.number,
        status=w.status,
        priority=w.priority,
        duration_min=w.duration_min,
        appointment_start_at=w.appointment_start_at,
        appointment_end_at=w.appointment_end_at,
        address=site.address,
        latitude=site.latitude,
        longitude=site.longitude,
        customer=CustomerSummary(
            account_id=account.id,
            name=account.name,
            site_name=site.name,
            contact_name=contact.name if contact else None,
            contact_phone=(contact.mobile or contact.phone) if contact else None,
            access_notes=site.access_notes,
        ),
        asset=AssetSummary(
            id=asset.id,
            serial=asset.serial,
            model=model.name if model else "",
            manufacturer=model.manufacturer if model else "",
        )
        if asset
        else None,
        parts=held,
        navigation=navigation(site.latitude, site.longitude, f"{account.name}, {site.address}"),
    )


def _late_s(start: datetime, w: WorkOrder, ticket: Ticket | None, day_start: datetime) -> int:
    """The engine's lateness for a start it did not plan (moved by hand or checked in): seconds
    past the SLA due time, or past the day's start for a due time sunk before it. The plan's own
    figure spoke of the old start."""
    due = None if ticket is not None and ticket.arrived_at is not None else w.sla_deadline_at
    if due is None:
        return 0
    return max(0, int((start - max(due, day_start)).total_seconds()))


def _past_due_min(eta: datetime, w: WorkOrder, ticket: Ticket | None) -> int:
    due = None if ticket is not None and ticket.arrived_at is not None else w.sla_deadline_at
    return max(0, int((eta - due).total_seconds() // 60)) if due is not None else 0


def _pickup(rows: RouteRows, seq: int, st: PlanStop, engineer: Engineer) -> StopRead | None:
    """The pickup stop with what is still to fetch there; None when nothing is left."""
    wh = rows.warehouses.get(st.warehouse_id or -1)
    wh_by_loc = rows.warehouse_by_location
    take = [
        _line(rows, r)
        for r in rows.reservations
        if r.status == ReservationStatus.held
        and r.pickup_engineer_id == engineer.id
        and wh is not None
        and wh_by_loc.get(r.location_id) is not None
        and wh_by_loc[r.location_id].id == wh.id
    ]
    if wh is None or not take:
        return None
    return StopRead(
        seq=seq,
        kind="pickup",
        eta=st.arrival_at,
        start_at=st.start_at,
        end_at=st.end_at,
        warehouse_id=wh.id,
        warehouse_name=wh.name,
        address=wh.address,
        latitude=wh.latitude,
        longitude=wh.longitude,
        parts=take,
        navigation=navigation(wh.latitude, wh.longitude, wh.name),
    )


def _stops(rows: RouteRows, planned: PlannedDay, engineer: Engineer) -> list[StopRead]:
    """The plan's stops still valid, then the visits assigned by hand, in time order."""
    out: list[StopRead] = []
    shown: set[int] = set()
    day_start = plan_keys.day_reference(planned.day, planned.timezone)
    zone = ZoneInfo(planned.timezone)
    for st in planned.stops:
        if st.kind == "job":
            w = rows.work_orders.get(st.work_order_id or -1)
            if w is None or w.engineer_id != engineer.id or w.status in GONE:
                continue  # re-assigned or cancelled since the plan was published
            if w.checked_in_at is not None and route_day(w, planned.timezone) != planned.day:
                continue  # checked in on another day: shown there, whatever this plan still holds
            moved = plan_moved.moved_start(w.status, w.planned_start_at, st.start_at, planned.day, zone)
            if moved is plan_moved.ELSEWHERE:
                # scheduled by hand onto another day, its re-plan not published yet: shown on that
                # day's route (`extra`), as the board does; it was listed here at its new time
                continue
            out.append(_visit(rows, len(out), w, st, day_start))
            shown.add(w.id)
        elif st.kind == "pickup":
            pickup = _pickup(rows, len(out), st, engineer)
            if pickup is not None:
                out.append(pickup)
        else:
            out.append(
                StopRead(
                    seq=len(out), kind=st.kind, eta=st.arrival_at, start_at=st.start_at, end_at=st.end_at
                )
            )
    extra = planned.extra
    for w in sorted(extra, key=lambda x: x.planned_start_at):  # type: ignore[arg-type, return-value]
        if w.id not in shown:
            out.append(_visit(rows, len(out), w, None, day_start))
    # In time order as the visits stand now, not only as the plan had them: until a re-plan runs,
    # a visit checked in early (or its check-in undone, back to its planned start) would keep the
    # plan's place and its number ("stop 2" for a visit back at 14:00). Stable: a plan's own
    # order stays as it is.
    out.sort(key=lambda s: s.start_at)
    for i, s in enumerate(out):
        s.seq = i
    return out


def _pickups(rows: RouteRows, engineer: Engineer) -> list[PartLine]:
    """Every part still to fetch today, wherever the pickup stop is."""
    return [
        _line(rows, r)
        for r in rows.reservations
        if r.status == ReservationStatus.held
        and r.picked_up_at is None
        and r.pickup_engineer_id == engineer.id
        and r.location_id in rows.warehouse_by_location
    ]
