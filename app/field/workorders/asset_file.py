"""The asset file an engineer reads on site: what the machine is, whether it is under warranty or a
contract, and what the last visits to it found and fitted.

Read with a fixed handful of queries (the visit page opens it on every load).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.customers.view360 import asset_entitlement, contract_status
from app.models import Asset, Contract, Engineer, Part, PartUsage, ProductModel, WorkOrder, WorkOrderStatus

PAST_VISITS = 5  # the latest finished visits shown; older ones rarely help on site
FINISHED = (WorkOrderStatus.done.value, WorkOrderStatus.needs_follow_up.value)


@dataclass(frozen=True, slots=True)
class PastVisit:
    number: str
    finished_at: datetime | None
    engineer: str
    work_done: str
    fixed: bool | None
    parts: tuple[str, ...]  # "2 × Gasket set"


@dataclass(frozen=True, slots=True)
class AssetFile:
    serial: str
    model_code: str
    model_name: str
    manufacturer: str
    category: str
    installed_on: date | None
    warranty_ends_on: date | None
    # in_warranty / under_contract / billable: the 360 view's rule, so the engineer and the agent agree
    entitlement: str
    contract_number: str | None
    contract_tier: str | None
    contract_ends_on: date | None
    contract_status: str | None  # active / expired / upcoming
    past_visits: tuple[PastVisit, ...]


def asset_file(session: Session, work_order: WorkOrder, *, today: date) -> AssetFile | None:
    """The file of the visit's asset (None for a visit without one); ``today`` in the engineer's zone."""
    if work_order.asset_id is None:
        return None
    row = session.execute(
        select(Asset, ProductModel, Contract)
        .join(ProductModel, ProductModel.id == Asset.product_model_id)
        .outerjoin(Contract, Contract.id == Asset.contract_id)
        .where(Asset.id == work_order.asset_id)
    ).first()
    if row is None:
        return None
    asset, model, contract = row
    return AssetFile(
        serial=asset.serial,
        model_code=model.code,
        model_name=model.name,
        manufacturer=model.manufacturer,
        category=model.category,
        installed_on=asset.install_date,
        warranty_ends_on=asset.warranty_end,
        entitlement=asset_entitlement(asset, contract, today),
        contract_number=contract.number if contract else None,
        contract_tier=contract.tier if contract else None,
        contract_ends_on=contract.ends_on if contract else None,
        contract_status=contract_status(contract, today) if contract else None,
        past_visits=_past_visits(session, asset.id, work_order.id),
    )


def _past_visits(session: Session, asset_id: int, current_id: int) -> tuple[PastVisit, ...]:
    visits = session.execute(
        select(WorkOrder, Engineer.name)
        .outerjoin(Engineer, Engineer.id == WorkOrder.engineer_id)
        .where(
            WorkOrder.asset_id == asset_id,
            WorkOrder.id != current_id,
            WorkOrder.status.in_(FINISHED),
        )
        .order_by(WorkOrder.checked_out_at.desc().nulls_last(), WorkOrder.id.desc())
        .limit(PAST_VISITS)
    ).tuples()
    rows = list(visits)
    parts: dict[int, list[str]] = {}
    used = session.execute(
        select(PartUsage.work_order_id, PartUsage.quantity, Part.name)
        .join(Part, Part.id == PartUsage.part_id)
        .where(PartUsage.work_order_id.in_([wo.id for wo, _ in rows] or [-1]))
        .order_by(PartUsage.id)
    ).tuples()
    for work_order_id, quantity, name in used:
        parts.setdefault(work_order_id, []).append(f"{quantity} × {name}")
    return tuple(
        PastVisit(
            number=wo.number or f"WO-{wo.id}",
            finished_at=wo.checked_out_at or wo.checked_in_at,
            engineer=name or "—",
            work_done=wo.report_work_done or "",
            fixed=wo.fixed_first_time,
            parts=tuple(parts.get(wo.id, ())),
        )
        for wo, name in rows
    )
