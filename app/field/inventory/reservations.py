"""Part reservations for planned visits, at a van or a warehouse.

`StockLevel.reserved` is always the sum of the held `StockReservation`s at that location. Every
change is a conditional UPDATE (`... WHERE quantity - reserved >= n`), so two transactions racing
for the last free unit cannot both win and free stock never goes below zero; the table's CHECK
constraints (`quantity >= 0`, `reserved >= 0`, `reserved <= quantity`) are the backstop. A count
correction or a service report that physically removes held units cuts the reservations first
(`stock.make_room`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.field.inventory.stock import Line, expire_levels, location_name
from app.models import (
    Part,
    ReservationStatus,
    StockLevel,
    StockLocation,
    StockReservation,
    User,
    WorkOrder,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, Unprocessable

HELD = ReservationStatus.held.value
log = logging.getLogger(__name__)


def _bump_reserved(session: Session, location_id: int, part_id: int, delta: int) -> bool:
    """reserved += delta; refused when it would exceed the quantity or drop below zero."""
    stmt = (
        update(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
        .values(reserved=StockLevel.reserved + delta, version=StockLevel.version + 1)
        .execution_options(synchronize_session=False)
    )
    if delta > 0:
        stmt = stmt.where(StockLevel.quantity - StockLevel.reserved >= delta)
    else:
        stmt = stmt.where(StockLevel.reserved >= -delta)
    return cast(CursorResult[Any], session.execute(stmt)).rowcount == 1


def free_quantity(session: Session, location_id: int, part_id: int) -> int:
    row = session.execute(
        select(StockLevel.quantity, StockLevel.reserved).where(
            StockLevel.location_id == location_id, StockLevel.part_id == part_id
        )
    ).first()
    return 0 if row is None else int(row[0] - row[1])


def reserve(
    session: Session,
    *,
    work_order_id: int,
    part_id: int,
    location_id: int,
    quantity: int,
    pickup_engineer_id: int | None = None,
    plan_run_id: int | None = None,
) -> StockReservation | None:
    """Hold `quantity` at the location for the visit; None (nothing written) when it is not free."""
    if quantity <= 0:
        raise ValueError("a reservation holds at least one unit")
    if not _bump_reserved(session, location_id, part_id, quantity):
        return None
    res = StockReservation(
        work_order_id=work_order_id,
        part_id=part_id,
        location_id=location_id,
        quantity=quantity,
        pickup_engineer_id=pickup_engineer_id,
        plan_run_id=plan_run_id,
    )
    session.add(res)
    expire_levels(session)
    return res


def held_for(session: Session, work_order_ids: Iterable[int]) -> list[StockReservation]:
    ids = list(set(work_order_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(StockReservation)
            .where(StockReservation.work_order_id.in_(ids), StockReservation.status == HELD)
            .order_by(StockReservation.location_id, StockReservation.part_id, StockReservation.id)
        )
    )


def _close(session: Session, rows: list[StockReservation], status: ReservationStatus) -> int:
    now = utcnow()
    for r in rows:
        if not _bump_reserved(session, r.location_id, r.part_id, -r.quantity):
            # The level lost track (its row deleted by hand): never push `reserved` below zero.
            log.warning("reservation %s: stock level no longer holds %s reserved", r.id, r.quantity)
        r.status = status.value
        r.closed_at = now
    expire_levels(session)
    session.flush()
    return sum(r.quantity for r in rows)


def release(session: Session, rows: list[StockReservation]) -> int:
    return _close(session, rows, ReservationStatus.released)


def release_for_work_order(session: Session, *, work_order_id: int) -> int:
    """A cancelled (or re-planned) visit gives its parts back. Idempotent; returns units freed."""
    return _close(session, held_for(session, [work_order_id]), ReservationStatus.released)


def consume_for_work_order(
    session: Session,
    *,
    work_order_id: int,
    used: Iterable[Line] | None = None,
    actor: User | None = None,
) -> int:
    """The visit is over: what it held and used is consumed, the rest is released; `reserved`
    drops by all it held (before the report lowers `quantity` by what was used). `used`: the
    report's lines, matched with a reservation of the same part at the same location only (parts
    taken from the van leave a warehouse's held units on its shelf); None: everything held counts
    as used (a caller that does not know). A reservation used in part is split into a consumed
    row (the used units) and a released one (the rest), so every reader of consumed reservations
    (routes, the visit page) sees what was used; each is audited. Returns the units consumed."""
    rows = held_for(session, [work_order_id])
    if not rows:
        return 0
    left: dict[tuple[int, int], int] = {}
    for ln in used if used is not None else [Line(r.location_id, r.part_id, r.quantity) for r in rows]:
        left[(ln.location_id, ln.part_id)] = left.get((ln.location_id, ln.part_id), 0) + ln.quantity
    number = session.scalar(select(WorkOrder.number).where(WorkOrder.id == work_order_id))
    consumed: list[StockReservation] = []
    released: list[StockReservation] = []
    held = {r.id: r.quantity for r in rows}
    for r in rows:
        key = (r.location_id, r.part_id)
        take = min(r.quantity, left.get(key, 0))
        left[key] = left.get(key, 0) - take
        if take == r.quantity:
            consumed.append(r)
        elif take == 0:
            released.append(r)
        else:  # the unused rest goes back as its own released row (`quantity > 0` on both)
            rest = StockReservation(
                work_order_id=r.work_order_id,
                part_id=r.part_id,
                location_id=r.location_id,
                quantity=r.quantity - take,
                pickup_engineer_id=r.pickup_engineer_id,
                plan_run_id=r.plan_run_id,
                created_at=r.created_at,
                picked_up_at=r.picked_up_at,
            )
            r.quantity = take  # both still held until `_close` lowers `reserved` by each
            session.add(rest)
            consumed.append(r)
            released.append(rest)
    session.flush()  # the split rows' ids, for the audit
    for r, action, why in [(r, "consumed", "used") for r in consumed] + [
        (r, "released", "not used") for r in released
    ]:
        audit.record(
            session,
            actor,
            "stock_reservation",
            r.id,
            action,
            {
                "status": [ReservationStatus.held.value, action],
                "quantity": [held.get(r.id), r.quantity],  # a split's released rest: a new row
                "work_order_id": [None, work_order_id],
                "reason": [None, f"{why} on {number or f'work order {work_order_id}'}"],
            },
        )
    _close(session, released, ReservationStatus.released)
    return _close(session, consumed, ReservationStatus.consumed)


@dataclass(frozen=True)
class PickedUp:
    part_id: int
    quantity: int
    from_location_id: int
    to_location_id: int


def van_location_id(session: Session, engineer_id: int) -> int:
    loc = session.scalar(select(StockLocation.id).where(StockLocation.engineer_id == engineer_id))
    if loc is None:
        raise Unprocessable(f"Engineer {engineer_id} has no van stock location.")
    return loc


def _add_to_van(session: Session, location_id: int, part_id: int, quantity: int) -> None:
    """quantity += n and reserved += n at the van (the parts arrive already set aside)."""
    stmt = (
        update(StockLevel)
        .where(StockLevel.location_id == location_id, StockLevel.part_id == part_id)
        .values(
            quantity=StockLevel.quantity + quantity,
            reserved=StockLevel.reserved + quantity,
            version=StockLevel.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if session.execute(stmt).rowcount == 1:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(
                StockLevel(location_id=location_id, part_id=part_id, quantity=quantity, reserved=quantity)
            )
    except IntegrityError:  # a concurrent first receipt created the row: add to it instead
        if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
            raise


def pickup_state(session: Session, *, work_order_id: int, engineer_id: int) -> str:
    """'waiting' (parts at a warehouse for this engineer to fetch), 'picked_up' (all fetched
    already: a repeated tap) or 'none' (the visit has no parts to pick up)."""
    van = session.scalar(select(StockLocation.id).where(StockLocation.engineer_id == engineer_id))
    held = held_for(session, [work_order_id])
    if any(r.location_id != van and r.pickup_engineer_id in (None, engineer_id) for r in held):
        return "waiting"
    return "picked_up" if any(r.picked_up_at is not None for r in held) else "none"


def confirm_pickup(
    session: Session, *, work_order: WorkOrder, engineer_id: int, actor: User | None
) -> list[PickedUp]:
    """The engineer took the visit's reserved parts at the warehouse: the stock (and its
    reservation) moves from the warehouse to the van. Nothing left to pick up returns []."""
    van = van_location_id(session, engineer_id)
    rows = _to_pick_up(session, work_order.id, engineer_id, van)
    moved: list[PickedUp] = []
    now = utcnow()
    for r in rows:
        out = (
            update(StockLevel)
            .where(
                StockLevel.location_id == r.location_id,
                StockLevel.part_id == r.part_id,
                StockLevel.reserved >= r.quantity,
                StockLevel.quantity >= r.quantity,
            )
            .values(
                quantity=StockLevel.quantity - r.quantity,
                reserved=StockLevel.reserved - r.quantity,
                version=StockLevel.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if session.execute(out).rowcount != 1:  # type: ignore[attr-defined]
            raise _not_held(session, r)
        _add_to_van(session, van, r.part_id, r.quantity)
        moved.append(PickedUp(r.part_id, r.quantity, r.location_id, van))
        audit.record(
            session,
            actor,
            "stock_reservation",
            r.id,
            "pickup",
            {"location_id": [r.location_id, van], "work_order_id": [None, work_order.id]},
        )
        r.location_id = van
        r.pickup_engineer_id = engineer_id
        r.picked_up_at = now
    expire_levels(session)
    session.flush()
    return moved


def pickup_shortage(session: Session, *, work_order_id: int, engineer_id: int) -> Conflict | None:
    """The 409 `confirm_pickup` would answer now (a warehouse no longer holds a part reserved for
    the visit), or None. Reads only, so a page can say why without trying."""
    van = session.scalar(select(StockLocation.id).where(StockLocation.engineer_id == engineer_id))
    for r in _to_pick_up(session, work_order_id, engineer_id, van):
        level = session.scalar(
            select(StockLevel).where(StockLevel.location_id == r.location_id, StockLevel.part_id == r.part_id)
        )
        # the guard of confirm_pickup's conditional UPDATE
        if level is None or level.reserved < r.quantity or level.quantity < r.quantity:
            return _not_held(session, r)
    return None


def _to_pick_up(
    session: Session, work_order_id: int, engineer_id: int, van: int | None
) -> list[StockReservation]:
    """The visit's held parts still at a warehouse, for this engineer to fetch."""
    return [
        r
        for r in held_for(session, [work_order_id])
        if r.location_id != van and (r.pickup_engineer_id in (None, engineer_id))
    ]


def _not_held(session: Session, r: StockReservation) -> Conflict:
    part = session.get(Part, r.part_id)
    what = f"{part.name} ({part.sku})" if part else "this part"  # never the bare id
    where = location_name(session, r.location_id)
    return Conflict(
        f"{where[:1].upper()}{where[1:]} no longer holds the "
        f"{r.quantity} × {what} reserved for this visit; nothing was moved. "
        "Ask the dispatcher to re-plan the parts.",
        part_id=r.part_id,
        location_id=r.location_id,
    )
