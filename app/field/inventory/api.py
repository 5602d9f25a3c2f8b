"""/api/v1/parts, /warehouses and /stock: the parts catalogue and stock per location.

Everyone signed in reads parts and warehouses; dispatcher/manager/admin manage them and book
stock adjustments. Engineers see warehouse stock and their own van, and may move parts between
a warehouse and their own van (a pickup or a return).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.inventory import parts as catalog
from app.field.inventory import stock as inventory
from app.field.inventory.schemas import (
    AdjustmentIn,
    AdjustmentRead,
    PartCreate,
    PartRead,
    PartUpdate,
    StockRead,
    TransferIn,
    TransferRead,
    WarehouseCreate,
    WarehouseRead,
)
from app.models import Part, Role, StockLocation, User
from app.platform.deps import CurrentUser, DbSession, DispatchUser
from app.platform.errors import Forbidden, NotFound
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Page,
    etag,
    fields_tag,
    idempotent_create,
    require_if_match,
)

router = APIRouter()
parts = APIRouter(prefix="/parts", tags=["parts"])
warehouses = APIRouter(prefix="/warehouses", tags=["warehouses"])
stock = APIRouter(prefix="/stock", tags=["stock"])


# --- parts -------------------------------------------------------------------------------------


def _part_tag(part: Part) -> str:
    # On SQLite a new part may get a deleted one's id (and version 1 again); a part has no
    # created_at to tell them apart (http.row_tag), so its own fields do. The price in cents: as
    # typed (12.5) and as read back (12.50) it must give the same tag.
    return fields_tag(part.sku, part.name, f"{Decimal(part.unit_cost):.2f}")


def _part_etag(part: Part) -> str:
    return etag(part.version, _part_tag(part))


@parts.post(
    "",
    status_code=201,
    response_model=PartRead,
    responses={201: {"headers": {"Location": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_part(body: PartCreate, request: Request, db: DbSession, user: DispatchUser) -> JSONResponse:
    def _create() -> tuple[PartRead, dict[str, str]]:
        part = catalog.create_part(db, values=body.model_dump(), actor=user)
        db.flush()
        return PartRead.model_validate(part), {
            "Location": f"/api/v1/parts/{part.id}",
            "ETag": _part_etag(part),
        }

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@parts.get("")
def list_parts(
    db: DbSession,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=200, description="SKU or name contains")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[PartRead]:
    rows, next_cursor = catalog.list_parts(db, q=q, cursor=cursor, limit=limit)
    return Page[PartRead](items=[PartRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@parts.get("/{part_id}")
def get_part(part_id: int, db: DbSession, user: CurrentUser, response: Response) -> PartRead:
    part = catalog.get_part(db, part_id)
    response.headers["ETag"] = _part_etag(part)
    return PartRead.model_validate(part)


@parts.patch("/{part_id}", dependencies=[IF_MATCH])
def update_part(
    part_id: int, body: PartUpdate, request: Request, db: DbSession, user: DispatchUser, response: Response
) -> PartRead:
    """Change fields; needs If-Match."""
    part = catalog.get_part(db, part_id)
    require_if_match(request, part.version, _part_tag(part))
    part = catalog.update_part(db, part=part, values=body.model_dump(exclude_unset=True), actor=user)
    db.flush()
    response.headers["ETag"] = _part_etag(part)
    return PartRead.model_validate(part)


@parts.delete("/{part_id}", status_code=204, dependencies=[IF_MATCH])
def delete_part(part_id: int, request: Request, db: DbSession, user: DispatchUser) -> Response:
    """Delete an unused part; needs If-Match. A part with stock or history answers 409."""
    part = catalog.get_part(db, part_id)
    require_if_match(request, part.version, _part_tag(part))
    catalog.delete_part(db, part=part, actor=user)
    return Response(status_code=204)


# --- warehouses --------------------------------------------------------------------------------


def _warehouse_read(warehouse: object, location_id: int) -> WarehouseRead:
    out = WarehouseRead.model_validate(warehouse)
    out.location_id = location_id
    return out


@warehouses.get("")
def list_warehouses(db: DbSession, user: CurrentUser, region_id: int | None = None) -> list[WarehouseRead]:
    return [_warehouse_read(w, loc) for w, loc in catalog.list_warehouses(db, region_id=region_id)]


@warehouses.post(
    "",
    status_code=201,
    response_model=WarehouseRead,
    responses={201: {"headers": {"Location": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_warehouse(
    body: WarehouseCreate, request: Request, db: DbSession, user: DispatchUser
) -> JSONResponse:
    """A warehouse and its stock location. Honours Idempotency-Key."""

    def _create() -> tuple[WarehouseRead, dict[str, str]]:
        warehouse = catalog.create_warehouse(db, values=body.model_dump(), actor=user)
        loc = db.scalar(select(StockLocation.id).where(StockLocation.warehouse_id == warehouse.id))
        assert loc is not None
        return _warehouse_read(warehouse, loc), {"Location": f"/api/v1/warehouses/{warehouse.id}"}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


# --- stock -------------------------------------------------------------------------------------


def _engineer_locations(db: Session, user: User) -> list[int] | None:
    """Locations an engineer may see (own van + warehouses); None = no restriction."""
    if user.role != Role.engineer.value:
        return None
    me = engineers.engineer_for_user(db, user)
    stmt = select(StockLocation.id).where(StockLocation.kind == "warehouse")
    ids = list(db.scalars(stmt))
    if me is not None and (van := engineers.van_location(db, me.id)) is not None:
        ids.append(van.id)
    return ids


@stock.get("")
def list_stock(
    db: DbSession,
    user: CurrentUser,
    location_id: int | None = None,
    part_id: int | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Page[StockRead]:
    """Stock levels by location and/or part. An engineer asking for another van gets 404."""
    only = _engineer_locations(db, user)
    if location_id is not None:
        inventory.get_location(db, location_id)
        if only is not None and location_id not in only:
            raise NotFound(f"Stock location {location_id} does not exist.")
    rows, next_cursor = inventory.list_stock(
        db, location_id=location_id, part_id=part_id, only_locations=only, cursor=cursor, limit=limit
    )
    locations = inventory.locations_by_id(db, {r.location_id for r in rows})
    items = [
        StockRead(
            id=r.id,
            location_id=r.location_id,
            location_kind=locations[r.location_id].kind,
            warehouse_id=locations[r.location_id].warehouse_id,
            engineer_id=locations[r.location_id].engineer_id,
            part_id=r.part_id,
            quantity=r.quantity,
            reserved=r.reserved,
        )
        for r in rows
    ]
    return Page[StockRead](items=items, next_cursor=next_cursor)


@stock.post("/adjustments", status_code=201, response_model=AdjustmentRead, dependencies=[IDEMPOTENCY_KEY])
def adjust(body: AdjustmentIn, request: Request, db: DbSession, user: DispatchUser) -> JSONResponse:
    """Receive goods or correct a count, with a reason; never below zero (409); audited.
    Send an Idempotency-Key: a retried receipt must not book the goods twice."""

    def _create() -> tuple[AdjustmentRead, dict[str, str]]:
        result = inventory.adjust(
            db,
            kind=body.kind,
            location_id=body.location_id,
            part_id=body.part_id,
            quantity=body.quantity,
            reason=body.reason,
            actor=user,
        )
        return AdjustmentRead(**result), {}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@stock.post("/transfers", status_code=201, response_model=TransferRead, dependencies=[IDEMPOTENCY_KEY])
def transfer(body: TransferIn, request: Request, db: DbSession, user: CurrentUser) -> JSONResponse:
    """Move parts between locations atomically (all lines or none; 409 on a shortage).
    Engineers may only move between a warehouse and their own van."""
    if user.role == Role.engineer.value:
        _check_engineer_transfer(db, user, body)
    elif user.role == Role.agent.value:
        raise Forbidden("Only dispatch or engineers move stock.")

    def _create() -> tuple[TransferRead, dict[str, str]]:
        result = inventory.transfer(
            db,
            from_location_id=body.from_location_id,
            to_location_id=body.to_location_id,
            lines=[(ln.part_id, ln.quantity) for ln in body.lines],
            reason=body.reason,
            actor=user,
        )
        return TransferRead(**result), {}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


def _check_engineer_transfer(db: Session, user: User, body: TransferIn) -> None:
    me = engineers.engineer_for_user(db, user)
    van = engineers.van_location(db, me.id) if me is not None else None
    ends = inventory.locations_by_id(db, {body.from_location_id, body.to_location_id})
    kinds = {ends[i].kind if i in ends else None for i in (body.from_location_id, body.to_location_id)}
    touches_own_van = van is not None and van.id in (body.from_location_id, body.to_location_id)
    if not (touches_own_van and kinds == {"van", "warehouse"}):
        raise Forbidden("Engineers can only move parts between a warehouse and their own van.")


router.include_router(parts)
router.include_router(warehouses)
router.include_router(stock)
