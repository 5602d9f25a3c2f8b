"""Field service: engineers, shifts, warehouses, stock and work orders."""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class WorkOrderStatus(StrEnum):
    unscheduled = "unscheduled"
    scheduled = "scheduled"
    en_route = "en_route"
    on_site = "on_site"
    done = "done"
    cancelled = "cancelled"
    needs_follow_up = "needs_follow_up"


class Engineer(Base):
    __tablename__ = "engineer"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_latitude: Mapped[float]
    home_longitude: Mapped[float]
    current_latitude: Mapped[float | None]
    current_longitude: Mapped[float | None]
    position_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class Shift(Base):
    """Weekly shift pattern, one row per working weekday (0=Mon), with an optional break."""

    __tablename__ = "shift"
    __table_args__ = (UniqueConstraint("engineer_id", "weekday"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id", ondelete="CASCADE"))
    weekday: Mapped[int]
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)
    break_starts: Mapped[time | None] = mapped_column(Time)
    break_ends: Mapped[time | None] = mapped_column(Time)


class OnCallShift(Base):
    """A stretch of on-call (standby) cover, e.g. Saturday 08:00 to Sunday 08:00. The planner
    uses it only for P1s and for 24x7 contracts due that day, at a call-out cost, so it is used
    only when the regular shifts cannot meet the deadline (docs/planning.md)."""

    __tablename__ = "on_call_shift"
    __table_args__ = (
        Index("ix_on_call_shift_engineer_starts", "engineer_id", "starts_at"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(200), default="")


class Absence(Base):
    """A day an engineer does not work (leave, sickness), or part of it, on the region's clock:
    both times null, the whole day; `from_time` only, from then on (sent home sick at 13:00);
    `until_time` only, until then (at the dentist until 10:30: a late start); both, between them
    (training 13:00–15:00: working before and after)."""

    __tablename__ = "absence"
    __table_args__ = (
        UniqueConstraint("engineer_id", "day"),
        CheckConstraint(
            "from_time IS NULL OR until_time IS NULL OR until_time > from_time", name="until_after_from"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(40), default="leave")
    from_time: Mapped[time | None] = mapped_column(Time, default=None)
    until_time: Mapped[time | None] = mapped_column(Time, default=None)


class Warehouse(Base):
    __tablename__ = "warehouse"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    latitude: Mapped[float]
    longitude: Mapped[float]
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)
    pickup_min: Mapped[int] = mapped_column(default=10)


class StockLocation(Base):
    """Where parts are kept: an engineer's van or a warehouse."""

    __tablename__ = "stock_location"
    __table_args__ = (CheckConstraint("(engineer_id IS NULL) <> (warehouse_id IS NULL)", name="one_owner"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # van | warehouse
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"), unique=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse.id"), unique=True)


class StockLevel(Base):
    __tablename__ = "stock_level"
    __table_args__ = (
        UniqueConstraint("location_id", "part_id"),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        # Units held for planned visits are units on the shelf: a removal that would break this
        # either cuts the reservations (count, report) or is refused (transfer). docs/workorders.md
        CheckConstraint("reserved <= quantity", name="reserved_within_quantity"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), index=True)
    quantity: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class WorkOrder(Base):
    __tablename__ = "work_order"
    __table_args__ = (
        Index("ix_work_order_engineer_start", "engineer_id", "planned_start_at"),
        Index("ix_work_order_region_status", "region_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), default=WorkOrderStatus.unscheduled)
    required_skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_min: Mapped[int] = mapped_column(default=60)
    # A time promised to the customer; moving it is penalised by the planner.
    appointment_start_at: Mapped[datetime | None]
    appointment_end_at: Mapped[datetime | None]
    sla_deadline_at: Mapped[datetime | None]
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"))
    planned_start_at: Mapped[datetime | None]
    eta_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    checked_out_at: Mapped[datetime | None]
    report_work_done: Mapped[str | None] = mapped_column(Text)
    fixed_first_time: Mapped[bool | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    # Set when the published plan cannot meet the SLA arrival due time (its ETA is past it, or
    # no plan of that day serves it); cleared when a later plan meets it.
    at_risk_since: Mapped[datetime | None]
    at_risk_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class WorkOrderWindow(Base):
    """A customer time window; service must start inside one of them."""

    __tablename__ = "work_order_window"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class WorkOrderPart(Base):
    """Parts a visit is expected to need."""

    __tablename__ = "work_order_part"
    work_order_id: Mapped[int] = mapped_column(
        ForeignKey("work_order.id", ondelete="CASCADE"), primary_key=True
    )
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(default=1)


class PartUsage(Base):
    """Parts actually used on a visit (from the service report), and where they came from."""

    __tablename__ = "part_usage"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    quantity: Mapped[int]
    at: Mapped[datetime] = mapped_column(default=utcnow)


class WorkOrderEvent(Base):
    """Status changes and field events of a visit."""

    __tablename__ = "work_order_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
