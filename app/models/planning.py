"""Dispatch planning: plan runs, published routes, part reservations, customer notifications.

A region's plan for a day is the run `PlanDay.current_run_id` points at; publishing a new run
writes its stops and flips that pointer in one transaction, so readers see one plan or the other.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow


class PlanRunStatus(StrEnum):
    queued = "queued"
    running = "running"
    published = "published"
    unchanged = "unchanged"  # same input as the published plan: nothing to publish
    conflict = "conflict"  # work orders edited while solving; a fresh run replaces it
    superseded = "superseded"  # a newer run for the same region and day took over
    failed = "failed"
    proposed = "proposed"  # solved, kept for a dispatcher to accept (docs/board.md)
    discarded = "discarded"  # a proposal the dispatcher turned down


FINISHED_RUN = (
    PlanRunStatus.published,
    PlanRunStatus.unchanged,
    PlanRunStatus.conflict,
    PlanRunStatus.superseded,
    PlanRunStatus.failed,
    PlanRunStatus.proposed,
    PlanRunStatus.discarded,
)


class PlanBatch(Base):
    """A fan-out: one run per region for one day, collected when the last one finishes."""

    __tablename__ = "plan_batch"
    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    collected_at: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PlanRun(Base):
    """One attempt to plan a region's day; its progress and result are read from this row."""

    __tablename__ = "plan_run"
    __table_args__ = (
        Index("ix_plan_run_region_day", "region_id", "day", "status"),
        Index("ix_plan_run_fingerprint", "region_id", "day", "fingerprint"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10), default="plan")  # plan | replan | manual
    # Why it runs: who asked (api, cli, board, assign, seed, fanout), an event of app.planning.triggers
    # (emergency, sickness, absence_removed, on_call, on_call_removed, cancellation, late), a what-if
    # published (whatif, whatif_stale), or a plan gone stale (conflict, stale_proposal). Free text.
    trigger: Mapped[str] = mapped_column(String(20), default="api")
    trigger_ref: Mapped[str] = mapped_column(String(80), default="")
    # Dedupe key of an event-triggered run: a duplicated event creates no second run.
    request_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("plan_batch.id"), index=True)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("plan_run.id"))
    status: Mapped[str] = mapped_column(String(12), default=PlanRunStatus.queued)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)  # percent
    best_objective: Mapped[int | None] = mapped_column(BigInteger)
    objective: Mapped[int | None] = mapped_column(BigInteger)
    time_limit_s: Mapped[float] = mapped_column(default=10.0)
    solution_limit: Mapped[int | None]
    seed: Mapped[int] = mapped_column(default=0)
    # Replans: the moment the day was frozen (visits started before it never move).
    as_of: Mapped[datetime | None]
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    # Last sign of life of the attempt running it (claim, load, solver progress): the sweeper
    # takes a run whose heartbeat is older than its time limit plus a grace for a lost worker.
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # Stop before publishing: the solved plan waits in `proposal` (app/planning/proposals.py).
    propose: Mapped[bool] = mapped_column(default=False, server_default=false())
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class PlanDay(Base):
    """The published plan of one region and day: readers follow `current_run_id`."""

    __tablename__ = "plan_day"
    __table_args__ = (UniqueConstraint("region_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"))
    day: Mapped[date] = mapped_column(Date)
    current_run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_run.id"))
    published_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}


class PlanRoute(Base):
    """One engineer's day in a run: totals of the stops below."""

    __tablename__ = "plan_route"
    __table_args__ = (UniqueConstraint("plan_run_id", "engineer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_run_id: Mapped[int] = mapped_column(ForeignKey("plan_run.id", ondelete="CASCADE"))
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id"), index=True)
    departure_at: Mapped[datetime]
    return_at: Mapped[datetime]
    travel_m: Mapped[int] = mapped_column(default=0)
    travel_s: Mapped[int] = mapped_column(default=0)
    jobs: Mapped[int] = mapped_column(default=0)
    late_s: Mapped[int] = mapped_column(default=0)


class PlanStop(Base):
    """A stop of a published route: a visit, a warehouse pickup or a break, in order."""

    __tablename__ = "plan_stop"
    __table_args__ = (Index("ix_plan_stop_run_engineer", "plan_run_id", "engineer_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_run_id: Mapped[int] = mapped_column(ForeignKey("plan_run.id", ondelete="CASCADE"))
    engineer_id: Mapped[int] = mapped_column(ForeignKey("engineer.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))  # job | pickup | break
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id"), index=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse.id"))
    arrival_at: Mapped[datetime]
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    late_s: Mapped[int] = mapped_column(default=0)
    parts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # part id -> quantity
    # A visit that had started (or finished) when the run froze the day: copied, never moved.
    fixed: Mapped[bool] = mapped_column(default=False)
    # Assigned by a dispatcher: later runs keep the visit with this engineer.
    locked: Mapped[bool] = mapped_column(default=False)
    # Planned in the engineer's on-call cover (app.planning.keys.cover_key), not their shift.
    cover: Mapped[str | None] = mapped_column(String(20))


class PlanUnassigned(Base):
    """A work order a run could not place, with the engine's reason."""

    __tablename__ = "plan_unassigned"
    __table_args__ = (UniqueConstraint("plan_run_id", "work_order_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_run_id: Mapped[int] = mapped_column(ForeignKey("plan_run.id", ondelete="CASCADE"))
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id"), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(Text, default="")


class NotificationStatus(StrEnum):
    pending = "pending"
    sending = "sending"  # claimed by a worker; reclaimed if the worker dies
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # nobody to tell (no contact e-mail)


class ReservationStatus(StrEnum):
    held = "held"
    consumed = "consumed"
    released = "released"


class StockReservation(Base):
    """Parts set aside for a visit at a van or a warehouse (`StockLevel.reserved` sums the held
    ones). A warehouse reservation names the engineer who picks it up; the pickup moves it (and
    the stock) to that engineer's van."""

    __tablename__ = "stock_reservation"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("ix_stock_reservation_open", "work_order_id", "status"),
        Index("ix_stock_reservation_location", "location_id", "part_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"))
    part_id: Mapped[int] = mapped_column(ForeignKey("part.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    quantity: Mapped[int]
    pickup_engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"))
    plan_run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_run.id"))
    status: Mapped[str] = mapped_column(String(10), default=ReservationStatus.held)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    picked_up_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class CustomerNotification(Base):
    """A visit planned or its ETA moved, told to the customer once per published plan."""

    __tablename__ = "customer_notification"
    __table_args__ = (
        UniqueConstraint("work_order_id", "plan_run_id"),
        Index("ix_customer_notification_due", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"))
    plan_run_id: Mapped[int | None] = mapped_column(ForeignKey("plan_run.id"))
    kind: Mapped[str] = mapped_column(String(20))  # planned | eta_changed | unplanned | cancelled
    eta_at: Mapped[datetime | None]
    previous_eta_at: Mapped[datetime | None]
    recipient: Mapped[str] = mapped_column(String(254), default="")
    status: Mapped[str] = mapped_column(String(10), default=NotificationStatus.pending.value)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
