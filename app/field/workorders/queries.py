"""Read side of work orders: load with visibility rules, child rows in batches, filtered lists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.models import PartUsage, Role, User, WorkOrder, WorkOrderPart, WorkOrderWindow
from app.platform.config import get_settings
from app.platform.errors import NotFound
from app.platform.http import paginate


def get_work_order(session: Session, work_order_id: int) -> WorkOrder:
    work_order = session.get(WorkOrder, work_order_id)
    if work_order is None:
        raise NotFound(f"Work order {work_order_id} does not exist.")
    return work_order


def visible_work_order(session: Session, user: User, work_order_id: int) -> WorkOrder:
    """Load a work order; an engineer sees only their own (another's answers 404, not 403)."""
    if user.role != Role.engineer.value:
        return get_work_order(session, work_order_id)
    work_order = session.get(WorkOrder, work_order_id)
    me = engineers.engineer_for_user(session, user)
    if me is None or work_order is None or work_order.engineer_id != me.id:
        # The same words whether it exists or not (nothing leaks), but not "does not exist": a
        # visit moved to a colleague read as deleted.
        raise NotFound(
            f"Work order {work_order_id} is not on your route: it may have been given to someone "
            "else, or it does not exist."
        )
    return work_order


def windows_of(session: Session, ids: Sequence[int]) -> dict[int, list[WorkOrderWindow]]:
    out: dict[int, list[WorkOrderWindow]] = {i: [] for i in ids}
    stmt = (
        select(WorkOrderWindow)
        .where(WorkOrderWindow.work_order_id.in_(ids))
        .order_by(WorkOrderWindow.starts_at)
    )
    for w in session.scalars(stmt):
        out[w.work_order_id].append(w)
    return out


def parts_of(session: Session, ids: Sequence[int]) -> dict[int, list[WorkOrderPart]]:
    out: dict[int, list[WorkOrderPart]] = {i: [] for i in ids}
    stmt = select(WorkOrderPart).where(WorkOrderPart.work_order_id.in_(ids)).order_by(WorkOrderPart.part_id)
    for p in session.scalars(stmt):
        out[p.work_order_id].append(p)
    return out


def usage_of(session: Session, ids: Sequence[int]) -> dict[int, list[PartUsage]]:
    out: dict[int, list[PartUsage]] = {i: [] for i in ids}
    for u in session.scalars(
        select(PartUsage).where(PartUsage.work_order_id.in_(ids)).order_by(PartUsage.id)
    ):
        out[u.work_order_id].append(u)
    return out


def list_work_orders(
    session: Session,
    *,
    viewer: User,
    status: Sequence[str] = (),
    region_id: int | None = None,
    engineer_id: int | None = None,
    ticket_id: int | None = None,
    day: date | None = None,
    at_risk: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[WorkOrder], str | None]:
    """Filtered, cursor-paged; `day` is a local date (settings.time_zone) of the planned start."""
    stmt: Select[Any] = select(WorkOrder)
    if viewer.role == Role.engineer.value:
        me = engineers.engineer_for_user(session, viewer)
        if me is None:
            return [], None
        stmt = stmt.where(WorkOrder.engineer_id == me.id)
    if status:
        stmt = stmt.where(WorkOrder.status.in_(list(status)))
    if region_id is not None:
        stmt = stmt.where(WorkOrder.region_id == region_id)
    if engineer_id is not None:
        stmt = stmt.where(WorkOrder.engineer_id == engineer_id)
    if ticket_id is not None:
        stmt = stmt.where(WorkOrder.ticket_id == ticket_id)
    if at_risk is not None:  # the dispatcher's board: what no plan gets there in time
        mark = WorkOrder.at_risk_since
        stmt = stmt.where(mark.is_not(None) if at_risk else mark.is_(None))
    if day is not None:
        start = datetime.combine(day, time(0), tzinfo=ZoneInfo(get_settings().time_zone)).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(get_settings().time_zone))
        stmt = stmt.where(
            WorkOrder.planned_start_at >= start, WorkOrder.planned_start_at < end.astimezone(UTC)
        )
    return paginate(session, stmt, WorkOrder.id, cursor=cursor, limit=limit)
