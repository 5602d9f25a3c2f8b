"""What a manual schedule should tell the dispatcher without refusing it ("warn and allow").

`POST …/schedule` refuses what makes a visit impossible (skill, start outside the shift or in an
absence, customer windows) but accepts a start that double-books the engineer or a job that
runs past the end of their working time: the dispatcher may mean it (the next plan re-times a
pinned visit). These warnings say so at once, so the route does not surprise anyone later.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.models import Absence, Engineer, WorkOrder, WorkOrderStatus

# The longest visit a work order may have (schemas: duration_min ≤ 24 h): a visit starting this
# long before the new one can still overlap it, so the query looks back that far.
LONGEST = timedelta(hours=24)


def visit_span(w: WorkOrder) -> tuple[datetime, datetime] | None:
    """When the visit occupies its engineer, as the route shows it (planning/routes.py): from the
    check-in once there is one (until check-out), else planned start + duration."""
    if w.checked_in_at is not None:
        return w.checked_in_at, w.checked_out_at or w.checked_in_at + timedelta(minutes=w.duration_min)
    if w.planned_start_at is None:
        return None
    return w.planned_start_at, w.planned_start_at + timedelta(minutes=w.duration_min)


def schedule_warnings(session: Session, work_order: WorkOrder) -> list[dict[str, Any]]:
    """Overlaps with the engineer's other visits, and the visit running past their working time
    or into an absence that day; empty when nothing is amiss (or the visit is not assigned)."""
    span = visit_span(work_order)
    if work_order.engineer_id is None or span is None:
        return []
    engineer = session.get_one(Engineer, work_order.engineer_id)
    tz = ZoneInfo(engineers.timezone_of(session, engineer))
    start, end = span
    return [*_overlaps(session, work_order, start, end, tz), *_shift(session, engineer, start, end, tz)]


def _overlaps(
    session: Session, work_order: WorkOrder, start: datetime, end: datetime, tz: ZoneInfo
) -> list[dict[str, Any]]:
    since = start - LONGEST
    others = session.scalars(
        select(WorkOrder)
        .where(
            WorkOrder.engineer_id == work_order.engineer_id,
            WorkOrder.id != work_order.id,
            WorkOrder.status != WorkOrderStatus.cancelled.value,
            or_(
                and_(WorkOrder.planned_start_at >= since, WorkOrder.planned_start_at < end),
                and_(WorkOrder.checked_in_at >= since, WorkOrder.checked_in_at < end),
            ),
        )
        .order_by(WorkOrder.planned_start_at, WorkOrder.id)
    )
    out = []
    for other in others:
        their = visit_span(other)
        if their is None or not (their[0] < end and start < their[1]):
            continue  # touching ends (one ends 15:00, the next starts 15:00) is no overlap
        out.append(
            {
                "code": "overlap",
                "work_order_id": other.id,
                "number": other.number,
                "start": their[0],
                "end": their[1],
                "detail": f"Overlaps {other.number} ({_span(their[0], their[1], start, tz)}, local time)",
            }
        )
    return out


def _shift(
    session: Session, engineer: Engineer, start: datetime, end: datetime, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """The start is already checked (a 422); only where the job runs to is news here."""
    ds = engineers.day_shift(session, engineer, start.astimezone(tz).date())
    out: list[dict[str, Any]] = []
    if ds.gap_starts_at and ds.gap_ends_at and start < ds.gap_starts_at < end:
        # DayShift carries the reason of a whole-day absence only
        reason = session.scalar(
            select(Absence.reason).where(Absence.engineer_id == engineer.id, Absence.day == ds.day)
        )
        why = f"{reason}, " if reason else ""
        out.append(
            {
                "code": "absence",
                "start": ds.gap_starts_at,
                "end": ds.gap_ends_at,
                "detail": f"Runs until {_hm(end, start, tz)}, into {engineer.name}'s absence "
                f"{_span(ds.gap_starts_at, ds.gap_ends_at, start, tz)} ({why}local time)",
            }
        )
    if ds.ends_at is not None and end > ds.ends_at:  # the shift's end, or an absence from a time on
        out.append(
            {
                "code": "outside_shift",
                "start": ds.ends_at,
                "end": end,
                "detail": f"Runs until {_hm(end, start, tz)}, past the end of {engineer.name}'s working "
                f"time that day at {_hm(ds.ends_at, start, tz)} (local time)",
            }
        )
    return out


def _hm(at: datetime, day_of: datetime, tz: ZoneInfo) -> str:
    """HH:MM, with the date when it is not the new visit's local day."""
    local = at.astimezone(tz)
    return f"{local:%H:%M}" if local.date() == day_of.astimezone(tz).date() else f"{local:%Y-%m-%d %H:%M}"


def _span(a: datetime, b: datetime, day_of: datetime, tz: ZoneInfo) -> str:
    return f"{_hm(a, day_of, tz)}–{_hm(b, day_of, tz)}"
