"""Stock levels per location (warehouse or van) and the only functions that move stock.

Every change goes through `_add`: a conditional UPDATE (`... WHERE quantity >= n`) is the
guard, so two transactions racing for the last unit cannot both win. On PostgreSQL the second
UPDATE waits for the first one's row lock and re-checks its WHERE against the committed row;
on SQLite a writer that lost the race gets `StockBusy` (409, retry). The `quantity >= 0`
CHECK constraint is the backstop.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Select, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app.models import Engineer, Part, PartUsage, StockLevel, StockLocation, User, Warehouse
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


def _add(session: Session, location_id: int, part_id: int, delta: int, *, free_only: bool = True) -> bool:
    """quantity += delta, refused (False) when the row is missing or a removal would take more
    than is free (`quantity - reserved`: units held for planned visits stay put) or, with
    `free_only=False`, more than is physically there."""
    stmt = (
        update(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
        .values(quantity=StockLevel.quantity + delta, version=StockLevel.version + 1)
        .execution_options(synchronize_session=False)
    )
    if delta < 0:
        have = StockLevel.quantity - StockLevel.reserved if free_only else StockLevel.quantity
        stmt = stmt.where(have >= -delta)
    try:
        return cast(CursorResult[Any], session.execute(stmt)).rowcount == 1
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


def take(session: Session, lines: Iterable[Line], *, free_only: bool = True) -> None:
    """Remove every line from stock, all or nothing; raise `Shortage` (409) naming each short line.

    Only free units can be taken: a transfer or count correction that took units reserved for a
    planned visit left `reserved > quantity` and the visit's pickup failing later. The service
    report alone passes `free_only=False`: it records parts already used on site (see
    docs/workorders.md "On site")."""
    merged = _aggregate(lines)
    short: list[Line] = []
    savepoint = session.begin_nested()
    try:
        for ln in merged:
            if not _add(session, ln.location_id, ln.part_id, -ln.quantity, free_only=free_only):
                short.append(ln)
    except BaseException:
        savepoint.rollback()
        raise
    if short:
        savepoint.rollback()
        expire_levels(session)
        _raise_shortage(session, short, free_only=free_only)
    savepoint.commit()
    expire_levels(session)


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
        items.append(
            {
                "part_id": ln.part_id,
                "sku": sku,
                "location_id": ln.location_id,
                "requested": ln.quantity,
                "available": available,
                "in_stock": in_stock,
                "reserved": reserved,
            }
        )
        have = f"{in_stock} in stock"
        if held:
            have += f" but {held} reserved for planned visits, so {available} free"
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
    if quantity > 0:
        _put(session, location_id, part_id, quantity)
    else:
        take(session, [Line(location_id, part_id, -quantity, "quantity")])
    expire_levels(session)
    level = level_at(session, location_id, part_id)
    assert level is not None
    at = utcnow()
    audit.record(
        session,
        actor,
        "stock_level",
        level.id,
        kind,
        {"quantity": [level.quantity - quantity, level.quantity], "reason": [None, reason]},
    )
    session.flush()
    return {
        "kind": kind,
        "location_id": location_id,
        "part_id": part_id,
        "delta": quantity,
        "quantity": level.quantity,
        "reason": reason,
        "at": at,
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
    is physical stock: the parts are already used, so a unit held for another visit may go (that
    visit then shows as short to the planner) rather than the report being refused on site."""
    take(session, lines, free_only=False)
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
