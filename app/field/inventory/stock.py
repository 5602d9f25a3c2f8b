"""Stock levels per location (warehouse or van) and the only functions that move stock.

Every change goes through `_add`: a conditional UPDATE (`... WHERE quantity >= n`) is the
guard, so two transactions racing for the last unit cannot both win. On PostgreSQL the second
UPDATE waits for the first one's row lock and re-checks its WHERE against the committed row;
on SQLite a writer that lost the race gets `StockBusy` (409, retry). The CHECK constraints
`quantity >= 0` and `reserved <= quantity` are the backstop.

Two kinds of removal: `take` (a transfer) moves only free units (`quantity - reserved`) and
refuses naming the visits that hold the rest; `take_physical` (a count correction, a service
report) records parts that are physically gone, so it first shrinks or releases the reservations
that no longer fit (`make_room`), each audited with its reason, and the next plan re-sources them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state

from app.models import (
    Engineer,
    Part,
    PartUsage,
    ReservationStatus,
    StockLevel,
    StockLocation,
    StockReservation,
    User,
    Warehouse,
    WorkOrder,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, NotFound, refuse
from app.platform.http import paginate


class Shortage(Conflict):
    """Not enough stock at a location; nothing was written."""

    title = "Insufficient stock"


class StockBusy(Conflict):
    """A concurrent stock booking won the (SQLite) write lock; nothing was written, retry."""

    title = "Stock busy"


# On a cut reservation's instance state: the reason it was cut. The planning hook reads it (the
# visit lost parts it was planned with: its day is planned again); a reservation the planner
# itself releases or moves carries no mark, so a publish does not re-plan its own day.
CUT_MARK = "fieldline_stock_cut"


@dataclass(frozen=True)
class Cut:
    """A held reservation that a physical removal cut into: `after` units still held (0: released)."""

    reservation_id: int
    work_order_id: int
    number: str
    part_id: int
    location_id: int
    before: int
    after: int


@dataclass(frozen=True)
class Line:
    """A quantity of one part at one location; `field` is the request path for error messages."""

    location_id: int
    part_id: int
    quantity: int
    field: str = ""


# --- stock locations -------------------------------------------------------------------------


def get_location(session: Session, location_id: int) -> StockLocation:
    location = session.get(StockLocation, location_id)
    if location is None:
        raise NotFound(f"Stock location {location_id} does not exist.")
    return location


def locations_by_id(session: Session, ids: Iterable[int]) -> dict[int, StockLocation]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {loc.id: loc for loc in session.scalars(select(StockLocation).where(StockLocation.id.in_(wanted)))}


def list_stock(
    session: Session,
    *,
    location_id: int | None,
    part_id: int | None,
    only_locations: Sequence[int] | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[StockLevel], str | None]:
    """Stock levels; `only_locations` restricts what a caller may see (an engineer: own van + warehouses)."""
    stmt: Select[Any] = select(StockLevel)
    if location_id is not None:
        stmt = stmt.where(StockLevel.location_id == location_id)
    if part_id is not None:
        stmt = stmt.where(StockLevel.part_id == part_id)
    if only_locations is not None:
        stmt = stmt.where(StockLevel.location_id.in_(list(only_locations)))
    return paginate(session, stmt, StockLevel.id, cursor=cursor, limit=limit)


def quantity_at(session: Session, location_id: int, part_id: int) -> int:
    qty = session.scalar(
        select(StockLevel.quantity).where(
            StockLevel.location_id == location_id, StockLevel.part_id == part_id
        )
    )
    return int(qty or 0)


def level_at(session: Session, location_id: int, part_id: int) -> StockLevel | None:
    return session.scalar(
        select(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
        .execution_options(populate_existing=True)
    )


# --- guarded stock movements -------------------------------------------------------------------


def expire_levels(session: Session) -> None:
    """Bulk UPDATEs bypass the identity map; make loaded StockLevel rows reload (stock and reservations)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, StockLevel):
            session.expire(obj)


def _write(session: Session, stmt: Any) -> int:
    """Run a guarded stock UPDATE; the number of rows it changed."""
    try:
        return cast(CursorResult[Any], session.execute(stmt)).rowcount
    except OperationalError as exc:
        # SQLite: the transaction read before another writer committed, so it may not write
        # (SQLITE_BUSY_SNAPSHOT, "database is locked", no waiting). Nothing was booked; the
        # client can retry and will then see the committed quantity.
        if session.get_bind().dialect.name == "sqlite" and "locked" in str(exc.orig):
            raise StockBusy(
                "Stock at this location is being booked by someone else right now; "
                "nothing was saved, retry in a moment.",
                headers={"Retry-After": "1"},
            ) from exc
        raise


def _add(session: Session, location_id: int, part_id: int, delta: int) -> bool:
    """quantity += delta, refused (False) when the row is missing or a removal would take more
    than is free (`quantity - reserved`: units held for planned visits stay put, and
    `reserved <= quantity` holds afterwards)."""
    stmt = (
        update(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
        .values(quantity=StockLevel.quantity + delta, version=StockLevel.version + 1)
        .execution_options(synchronize_session=False)
    )
    if delta < 0:
        stmt = stmt.where(StockLevel.quantity - StockLevel.reserved >= -delta)
    return _write(session, stmt) == 1


def _put(session: Session, location_id: int, part_id: int, quantity: int) -> None:
    if _add(session, location_id, part_id, quantity):
        return
    try:
        with session.begin_nested():
            session.add(StockLevel(location_id=location_id, part_id=part_id, quantity=quantity))
    except IntegrityError:  # a concurrent first receipt created the row; add to it instead
        if not _add(session, location_id, part_id, quantity):
            raise


def _aggregate(lines: Iterable[Line]) -> list[Line]:
    """One line per (location, part), in key order so concurrent movers lock rows alike (no deadlock)."""
    totals: dict[tuple[int, int], Line] = {}
    for ln in lines:
        key = (ln.location_id, ln.part_id)
        prev = totals.get(key)
        totals[key] = Line(
            ln.location_id,
            ln.part_id,
            ln.quantity + (prev.quantity if prev else 0),
            prev.field if prev else ln.field,
        )
    return [totals[k] for k in sorted(totals)]


def take(session: Session, lines: Iterable[Line]) -> None:
    """Move every line out of stock, all or nothing; raise `Shortage` (409) naming each short
    line and the visits whose reservations hold the rest.

    Only free units can be taken: a transfer that took units reserved for a planned visit left
    the visit's pickup failing later. A choice like that is the dispatcher's to make (re-plan or
    cancel the visit first), not a side effect of a transfer."""
    _take(session, lines, physical=None)


def take_physical(session: Session, lines: Iterable[Line], *, reason: str, actor: User | None) -> list[Cut]:
    """Record units that are physically gone (a count found fewer, a report used them), all or
    nothing. The guard is physical stock (`quantity >= n`): units held for planned visits are cut
    from their reservations first (`make_room`), so `reserved <= quantity` still holds and each
    affected visit is named. `Shortage` (409) only when fewer units are there at all."""
    cuts: list[Cut] = []
    _take(session, lines, physical=(reason, actor, cuts))
    return cuts


def _take(
    session: Session, lines: Iterable[Line], *, physical: tuple[str, User | None, list[Cut]] | None
) -> None:
    merged = _aggregate(lines)
    short: list[Line] = []
    savepoint = session.begin_nested()
    try:
        for ln in merged:
            if physical is not None:
                reason, actor, cuts = physical
                cuts += make_room(session, ln, reason=reason, actor=actor)
            if not _add(session, ln.location_id, ln.part_id, -ln.quantity):
                short.append(ln)
    except BaseException:
        savepoint.rollback()
        raise
    if short:
        savepoint.rollback()
        expire_levels(session)
        _raise_shortage(session, short, free_only=physical is None)
    savepoint.commit()
    expire_levels(session)


def _held_at(session: Session, location_id: int, part_id: int) -> list[tuple[StockReservation, str]]:
    """Held reservations at a location, the visit planned last first: it has the most time for the
    next plan to find the part elsewhere (an unscheduled visit before any planned one)."""
    rows = session.execute(
        select(StockReservation, WorkOrder.number)
        .join(WorkOrder, WorkOrder.id == StockReservation.work_order_id)
        .where(
            StockReservation.location_id == location_id,
            StockReservation.part_id == part_id,
            StockReservation.status == ReservationStatus.held.value,
        )
        .order_by(WorkOrder.planned_start_at.desc().nulls_first(), StockReservation.id.desc())
    ).tuples()
    return [(r, number or f"work order {r.work_order_id}") for r, number in rows]


def make_room(session: Session, line: Line, *, reason: str, actor: User | None) -> list[Cut]:
    """Before `line.quantity` units physically leave, cut the held reservations there by what
    would no longer fit (`reserved - (quantity - n)`): shrink, or release when nothing is left,
    audited with `reason` so the dispatcher sees why the visit lost its parts. The level's row is
    locked first (PostgreSQL), so nobody reserves in between. Nothing to cut, or fewer than n units
    there at all (the removal itself is refused), returns []."""
    level = session.scalar(
        select(StockLevel)
        .where(StockLevel.location_id == line.location_id, StockLevel.part_id == line.part_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if level is None or level.quantity < line.quantity:
        return []
    excess = level.reserved - (level.quantity - line.quantity)
    if excess <= 0:
        return []
    lowered = (
        update(StockLevel)
        .where(StockLevel.id == level.id, StockLevel.reserved >= excess)
        .values(reserved=StockLevel.reserved - excess, version=StockLevel.version + 1)
        .execution_options(synchronize_session=False)
    )
    if _write(session, lowered) != 1:  # cannot happen under the row lock; never write half of it
        raise StockBusy("Stock at this location changed meanwhile; nothing was saved, retry.")
    now = utcnow()
    left = excess
    cuts: list[Cut] = []
    for res, number in _held_at(session, line.location_id, line.part_id):
        if left <= 0:
            break
        before = res.quantity
        after = before - min(before, left)
        left -= before - after
        if after == 0:  # the quantity > 0 check: a reservation of nothing is a released one
            res.status, res.closed_at = ReservationStatus.released.value, now
        else:
            res.quantity = after
        instance_state(res).info[CUT_MARK] = reason
        audit.record(
            session,
            actor,
            "stock_reservation",
            res.id,
            "released" if after == 0 else "shrunk",
            {
                "quantity": [before, after],
                "work_order_id": [None, res.work_order_id],
                "reason": [None, reason],
            },
        )
        cuts.append(Cut(res.id, res.work_order_id, number, line.part_id, line.location_id, before, after))
    session.flush()
    expire_levels(session)
    return cuts


def location_name(session: Session, location_id: int) -> str:
    """'the van of Ada Field' / 'warehouse Munich North', as a person names a stock location."""
    location = session.get(StockLocation, location_id)
    if location is None:
        return f"stock location {location_id}"
    if location.engineer_id is not None:
        engineer = session.get(Engineer, location.engineer_id)
        return f"the van of {engineer.name}" if engineer else "a van"
    warehouse = session.get(Warehouse, location.warehouse_id) if location.warehouse_id else None
    return f"warehouse {warehouse.name}" if warehouse else f"stock location {location_id}"


def _raise_shortage(session: Session, short: list[Line], *, free_only: bool) -> None:
    parts = {
        pid: (sku, name)
        for pid, sku, name in session.execute(
            select(Part.id, Part.sku, Part.name).where(Part.id.in_([s.part_id for s in short]))
        ).tuples()
    }
    items = []
    errors = []
    for ln in short:
        level = level_at(session, ln.location_id, ln.part_id)
        in_stock, reserved = (level.quantity, level.reserved) if level else (0, 0)
        held = reserved if free_only else 0  # what this movement may not touch
        available = max(in_stock - held, 0)
        sku, name = parts.get(ln.part_id, (str(ln.part_id), ""))
        # The visits whose reservations hold the rest: what the dispatcher re-plans or cancels
        # to free them.
        holders = [(r, number) for r, number in _held_at(session, ln.location_id, ln.part_id)] if held else []
        item: dict[str, Any] = {
            "part_id": ln.part_id,
            "sku": sku,
            "location_id": ln.location_id,
            "requested": ln.quantity,
            "available": available,
            "in_stock": in_stock,
            "reserved": reserved,
        }
        if free_only:  # a physical removal was short of units, not of free ones: no holder to name
            item["held_by"] = [
                {"work_order_id": r.work_order_id, "number": number, "quantity": r.quantity}
                for r, number in holders
            ]
        items.append(item)
        have = f"{in_stock} in stock"
        if held:
            have += f" but {held} reserved for planned visits, so {available} free"
            if holders:
                have += " (reserved for " + ", ".join(f"{n} × {r.quantity}" for r, n in holders[:5])
                have += f" and {len(holders) - 5} more)" if len(holders) > 5 else ")"
        errors.append(
            {
                "field": ln.field or "quantity",
                "message": f"{ln.quantity} × {sku}{f' ({name})' if name else ''} requested from "
                f"{location_name(session, ln.location_id)}, {have}",
            }
        )
    detail = "Not enough stock, nothing was booked: " + "; ".join(e["message"] for e in errors) + "."
    raise Shortage(detail, errors=errors, shortages=items)


def check_refs(session: Session, lines: Sequence[Line]) -> list[dict[str, str]]:
    """Errors for unknown parts/locations, with each line's request path."""
    parts = set(session.scalars(select(Part.id).where(Part.id.in_({ln.part_id for ln in lines}))))
    locations = locations_by_id(session, {ln.location_id for ln in lines})
    errors = []
    for ln in lines:
        if ln.quantity < 1:
            errors.append({"field": f"{ln.field}.quantity", "message": "must be at least 1"})
        if ln.part_id not in parts:
            errors.append({"field": f"{ln.field}.part_id", "message": f"part {ln.part_id} does not exist"})
        if ln.location_id not in locations:
            errors.append(
                {
                    "field": f"{ln.field}.location_id",
                    "message": f"stock location {ln.location_id} does not exist",
                }
            )
    return errors


def adjust(
    session: Session,
    *,
    kind: str,
    location_id: int,
    part_id: int,
    quantity: int,
    reason: str,
    actor: User | None,
) -> dict[str, Any]:
    """Receive goods (kind=receive, quantity > 0) or correct a count (kind=adjust, signed delta)."""
    errors = check_refs(session, [Line(location_id, part_id, max(abs(quantity), 1), "")])
    errors = [{**e, "field": e["field"].lstrip(".")} for e in errors]
    if kind == "receive" and quantity <= 0:
        errors.append({"field": "quantity", "message": "a receipt must add at least 1"})
    if quantity == 0:
        errors.append({"field": "quantity", "message": "must not be 0"})
    refuse(errors)
    before = level_at(session, location_id, part_id)
    reserved_before = before.reserved if before else 0
    cuts: list[Cut] = []
    if quantity > 0:
        _put(session, location_id, part_id, quantity)
    else:
        # A count is a fact about the shelf: the units are gone whether or not a visit held them.
        # Refusing would keep phantom parts planned for pickups; instead the reservations that no
        # longer fit are cut (named in the answer) and the next plan sources those parts elsewhere.
        cuts = take_physical(
            session,
            [Line(location_id, part_id, -quantity, "quantity")],
            reason=f"stock count: {reason}",
            actor=actor,
        )
    expire_levels(session)
    level = level_at(session, location_id, part_id)
    assert level is not None
    at = utcnow()
    changes: dict[str, Any] = {
        "quantity": [level.quantity - quantity, level.quantity],
        "reason": [None, reason],
    }
    if level.reserved != reserved_before:
        changes["reserved"] = [reserved_before, level.reserved]
    audit.record(session, actor, "stock_level", level.id, kind, changes)
    session.flush()
    return {
        "kind": kind,
        "location_id": location_id,
        "part_id": part_id,
        "delta": quantity,
        "quantity": level.quantity,
        "reserved": level.reserved,
        "reason": reason,
        "at": at,
        "released": [_cut_read(c) for c in cuts],
    }


def _cut_read(cut: Cut) -> dict[str, Any]:
    return {
        "reservation_id": cut.reservation_id,
        "work_order_id": cut.work_order_id,
        "number": cut.number,
        "part_id": cut.part_id,
        "location_id": cut.location_id,
        "held_before": cut.before,
        "held_after": cut.after,
    }


def transfer(
    session: Session,
    *,
    from_location_id: int,
    to_location_id: int,
    lines: Sequence[tuple[int, int]],
    reason: str,
    actor: User | None,
) -> dict[str, Any]:
    """Move parts between locations (e.g. a van picking up at a warehouse): all lines or none."""
    out = [Line(from_location_id, p, q, f"lines.{i}") for i, (p, q) in enumerate(lines)]
    errors = [e for e in check_refs(session, out) if not e["field"].endswith("location_id")]
    if session.get(StockLocation, from_location_id) is None:
        errors.append(
            {"field": "from_location_id", "message": f"stock location {from_location_id} does not exist"}
        )
    if session.get(StockLocation, to_location_id) is None:
        errors.append(
            {"field": "to_location_id", "message": f"stock location {to_location_id} does not exist"}
        )
    if from_location_id == to_location_id:
        errors.append({"field": "to_location_id", "message": "must differ from from_location_id"})
    refuse(errors)
    take(session, out)
    moved: dict[int, int] = {}
    for ln in _aggregate(Line(to_location_id, ln.part_id, ln.quantity) for ln in out):
        _put(session, to_location_id, ln.part_id, ln.quantity)
        moved[ln.part_id] = ln.quantity
    expire_levels(session)
    at = utcnow()
    result_lines = []
    for part_id, qty in moved.items():
        src, dst = level_at(session, from_location_id, part_id), level_at(session, to_location_id, part_id)
        assert src is not None and dst is not None
        note = {
            "reason": [None, reason],
            "transfer": [None, {"from": from_location_id, "to": to_location_id}],
        }
        audit.record(
            session,
            actor,
            "stock_level",
            src.id,
            "transfer_out",
            {"quantity": [src.quantity + qty, src.quantity], **note},
        )
        audit.record(
            session,
            actor,
            "stock_level",
            dst.id,
            "transfer_in",
            {"quantity": [dst.quantity - qty, dst.quantity], **note},
        )
        result_lines.append(
            {"part_id": part_id, "quantity": qty, "from_quantity": src.quantity, "to_quantity": dst.quantity}
        )
    session.flush()
    return {
        "from_location_id": from_location_id,
        "to_location_id": to_location_id,
        "lines": result_lines,
        "reason": reason,
        "at": at,
    }


def record_usage(
    session: Session, *, work_order_id: int, lines: Sequence[Line], at: datetime, actor: User | None
) -> list[PartUsage]:
    """Book parts used on a visit: guarded decrement plus PartUsage rows, all or nothing. The guard
    is physical stock: the parts are already used, so a unit held for another visit may go rather
    than the report being refused on site; that visit's reservation is cut (audited, the reason
    names this work order) and the next plan sources its part elsewhere. The caller consumes the
    visit's own reservations first, so its own parts never cut anyone else's."""
    number = session.scalar(select(WorkOrder.number).where(WorkOrder.id == work_order_id))
    take_physical(session, lines, reason=f"used on site by {number or work_order_id}", actor=actor)
    rows = [
        PartUsage(
            work_order_id=work_order_id,
            part_id=ln.part_id,
            location_id=ln.location_id,
            quantity=ln.quantity,
            at=at,
        )
        for ln in lines
    ]
    session.add_all(rows)
    for ln in _aggregate(lines):
        level = level_at(session, ln.location_id, ln.part_id)
        assert level is not None
        audit.record(
            session,
            actor,
            "stock_level",
            level.id,
            "use",
            {
                "quantity": [level.quantity + ln.quantity, level.quantity],
                "work_order_id": [None, work_order_id],
            },
        )
    session.flush()
    return rows
