"""The parts catalogue and the warehouses that stock parts (each with its stock location)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app.models import (
    Part,
    PartUsage,
    ProductModelPart,
    Region,
    StockLevel,
    StockLocation,
    User,
    Warehouse,
    WorkOrderPart,
)
from app.platform import audit
from app.platform.errors import Conflict, NotFound, refuse
from app.platform.http import paginate
from app.platform.like import LIKE_ESCAPE, like_contains

PART_FIELDS = ("sku", "name", "unit_cost")
WAREHOUSE_FIELDS = ("name", "region_id", "address", "latitude", "longitude", "opens", "closes", "pickup_min")


# --- parts -------------------------------------------------------------------------------------


def get_part(session: Session, part_id: int) -> Part:
    part = session.get(Part, part_id)
    if part is None:
        raise NotFound(f"Part {part_id} does not exist.")
    return part


def _sku_taken(session: Session, sku: str, part_id: int | None) -> bool:
    other = session.scalar(select(Part.id).where(func.lower(Part.sku) == sku.lower()))
    return other is not None and other != part_id


def create_part(session: Session, *, values: Mapping[str, Any], actor: User | None) -> Part:
    if _sku_taken(session, values["sku"], None):
        raise Conflict(
            f"A part with SKU {values['sku']} already exists.",
            errors=[{"field": "sku", "message": "already exists"}],
        )
    part = Part(**{k: values[k] for k in PART_FIELDS if k in values})
    session.add(part)
    session.flush()
    audit.record(session, actor, "part", part.id, "create", {"sku": [None, part.sku]})
    return part


def update_part(session: Session, *, part: Part, values: Mapping[str, Any], actor: User | None) -> Part:
    if "sku" in values and _sku_taken(session, values["sku"], part.id):
        raise Conflict(
            f"A part with SKU {values['sku']} already exists.",
            errors=[{"field": "sku", "message": "already exists"}],
        )
    changes = audit.apply_changes(part, {k: v for k, v in values.items() if k in PART_FIELDS})
    if changes:
        audit.record(session, actor, "part", part.id, "update", changes)
    session.flush()
    return part


def delete_part(session: Session, *, part: Part, actor: User | None) -> None:
    """Delete a part nobody refers to; history (usage, stock, work orders) keeps it alive."""
    for model, what in (
        (StockLevel, "stock levels"),
        (PartUsage, "service reports"),
        (WorkOrderPart, "work orders"),
        (ProductModelPart, "product models"),
    ):
        if session.scalar(select(func.count()).select_from(model).where(model.part_id == part.id)):
            raise Conflict(f"Part {part.sku} is still used by {what}; it cannot be deleted.")
    audit.record(session, actor, "part", part.id, "delete", {"sku": [part.sku, None]})
    session.delete(part)
    session.flush()


def list_parts(
    session: Session, *, q: str | None, cursor: str | None, limit: int
) -> tuple[Sequence[Part], str | None]:
    stmt: Select[Any] = select(Part)
    if q and q.strip():
        like = like_contains(q.strip().lower())
        stmt = stmt.where(
            or_(
                func.lower(Part.sku).like(like, escape=LIKE_ESCAPE),
                func.lower(Part.name).like(like, escape=LIKE_ESCAPE),
            )
        )
    return paginate(session, stmt, Part.id, cursor=cursor, limit=limit)


# --- warehouses ------------------------------------------------------------------


def create_warehouse(session: Session, *, values: Mapping[str, Any], actor: User | None) -> Warehouse:
    errors = []
    if session.get(Region, values["region_id"]) is None:
        errors.append({"field": "region_id", "message": f"region {values['region_id']} does not exist"})
    if values["opens"] >= values["closes"]:
        errors.append({"field": "closes", "message": "must be after opens"})
    refuse(errors)
    if session.scalar(select(Warehouse.id).where(Warehouse.name == values["name"])) is not None:
        raise Conflict(
            f"A warehouse named {values['name']} already exists.",
            errors=[{"field": "name", "message": "already exists"}],
        )
    warehouse = Warehouse(**{k: values[k] for k in WAREHOUSE_FIELDS if k in values})
    session.add(warehouse)
    session.flush()
    session.add(StockLocation(kind="warehouse", warehouse_id=warehouse.id))
    audit.record(session, actor, "warehouse", warehouse.id, "create", {"name": [None, warehouse.name]})
    session.flush()
    return warehouse


def list_warehouses(session: Session, *, region_id: int | None) -> list[tuple[Warehouse, int]]:
    """Warehouses with their stock location id."""
    stmt = select(Warehouse, StockLocation.id).join(StockLocation, StockLocation.warehouse_id == Warehouse.id)
    if region_id is not None:
        stmt = stmt.where(Warehouse.region_id == region_id)
    return [(w, loc_id) for w, loc_id in session.execute(stmt.order_by(Warehouse.name))]
