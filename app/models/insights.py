"""Per-day KPI aggregates: the sufficient statistics of each KPI for one local day and slice.

Raw KPIs load every row of the window into Python; at a million tickets that is seconds. The
periodic job (app/insights/tasks.py) keeps, per metric × local day × one slicing key and value,
what the library's formula needs to give the same figure over any set of days: the count n and
the hits for a percentage (ratio of sums), the list of minutes for a median/p90 (merged lists
have the same quantiles as the raw rows). docs/kpis.md, "In the product", says which metrics.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, Index, LargeBinary, String, UniqueConstraint, func, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.feedback import Survey
from app.models.field import WorkOrder
from app.models.tickets import SlaEvent, Ticket
from app.platform.db import Base


class KpiDay(Base):
    __tablename__ = "kpi_day"
    __table_args__ = (UniqueConstraint("metric", "key", "value", "day", name="uq_kpi_day_slice"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(20), default="")  # "" = everything, else region, engineer…
    value: Mapped[str] = mapped_column(String(64), default="")
    day: Mapped[date] = mapped_column(Date)  # the local day of the region the items belong to
    n: Mapped[int] = mapped_column(default=0)
    hits: Mapped[int] = mapped_column(default=0)
    # durations, calendar and business time: float64 little-endian bytes (aggregates.pack)
    minutes: Mapped[bytes | None] = mapped_column(LargeBinary)
    business_minutes: Mapped[bytes | None] = mapped_column(LargeBinary)
    # engineer-days: Σ shift minutes and Σ the part measured (on site or travel)
    shift_min: Mapped[float | None]
    part_min: Mapped[float | None]
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # backlog at the end of the day
    ratings: Mapped[dict[str, int] | None] = mapped_column(JSON)  # survey answers: rating → count
    # durations: the items of the day and slice not in n because their record cannot be counted
    # (an event before the ticket was opened: `Metric.left_out`), shown beside the figure
    left_out: Mapped[int] = mapped_column(default=0, server_default="0")


class KpiDirty(Base):
    """What a change may have moved in kpi_day, written by the session hook of
    app/insights/changes.py in the changing transaction and consumed (deleted) by the next refresh.

    scope: `tickets` (ticket, SLA and backlog metrics on `day`); `ticket` (the same, on every day
    of ticket `ticket_id`'s times as they are at the refresh); `backlog` (the backlog snapshot of
    `day` only); `open` (the backlog snapshots of every day ticket `ticket_id` was open);
    `visits` (visit metrics on `day`, and on the days of the visits at `target` within the return
    window of `day` and of ticket `ticket_id`'s visits); `shifts` (engineer-days on `day`). Days
    are UTC dates: the refresh widens them by one for every local zone."""

    __tablename__ = "kpi_dirty"
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))
    day: Mapped[date | None] = mapped_column(Date)
    target: Mapped[str | None] = mapped_column(String(40))  # "asset:<id>" or "site:<id>"
    ticket_id: Mapped[int | None]


class KpiRefresh(Base):
    """One row: from which local day the aggregates are complete, and when they were refreshed."""

    __tablename__ = "kpi_refresh"
    id: Mapped[int] = mapped_column(primary_key=True)
    built_from: Mapped[date] = mapped_column(Date)
    refreshed_at: Mapped[datetime]
    # Every account renewing within 120 days as [id, health score, region, tier], lowest first,
    # as of `renewal_day` (app/insights/lists.py): the page re-scores only the first few.
    renewal_day: Mapped[date | None] = mapped_column(Date)
    renewal_scores: Mapped[list[Any] | None] = mapped_column(JSON)


# Indexes the KPI reads need on the desk, field and survey tables (migration 0015): the
# drill-down's keyset pages in (time, id) order, the visits of a window, the periodic refresh's
# "changed since" scans and today's open tickets (the running period's backlog).
OPEN_TICKET = text("resolved_at IS NULL AND closed_at IS NULL")
# SLA at risk counts the open tickets marked at risk (records.count_at_risk, migration 0017): a
# few thousand of a million rows. No parameter in the predicate, so every plan can use it.
AT_RISK_OPEN = text("at_risk_since IS NOT NULL AND resolved_at IS NULL AND closed_at IS NULL")
# What the counts read of a ticket besides the key (opened_at), so that PostgreSQL can count from
# the index alone where the pages are all-visible: at 1 M tickets the marked ones lie scattered,
# about one heap page each.
AT_RISK_COLUMNS = ["status", "category", "channel", "account_id", "site_id", "asset_id", "id"]
RESUME = text("kind = 'resume'")
UNRESOLVED = text("resolved_at IS NULL")
KPI_INDEXES = (
    Index("ix_ticket_first_response_id", Ticket.first_response_at, Ticket.id),
    Index("ix_ticket_arrived_id", Ticket.arrived_at, Ticket.id),
    Index("ix_ticket_resolved_id", Ticket.resolved_at, Ticket.id),
    Index("ix_ticket_updated_at", Ticket.updated_at),
    # SLA clocks in drill-down order: met at, else due at (app/insights/drill.py, SLA_CLOCKS)
    Index(
        "ix_ticket_sla_first_response",
        func.coalesce(Ticket.first_response_at, Ticket.first_response_due_at),
        Ticket.id,
    ),
    Index("ix_ticket_sla_arrival", func.coalesce(Ticket.arrived_at, Ticket.arrival_due_at), Ticket.id),
    Index("ix_ticket_sla_resolution", func.coalesce(Ticket.resolved_at, Ticket.resolution_due_at), Ticket.id),
    Index("ix_ticket_open_opened", Ticket.opened_at, sqlite_where=OPEN_TICKET, postgresql_where=OPEN_TICKET),
    Index(
        "ix_ticket_at_risk_open",
        Ticket.opened_at,
        sqlite_where=AT_RISK_OPEN,
        postgresql_where=AT_RISK_OPEN,
        postgresql_include=AT_RISK_COLUMNS,
    ),
    Index("ix_work_order_checked_in", WorkOrder.checked_in_at),
    Index("ix_work_order_updated_at", WorkOrder.updated_at),
    Index("ix_survey_sent_id", Survey.sent_at, Survey.id),
    # A changed visit's return-window neighbours at its target (migration 0019)
    Index("ix_work_order_asset_checked_in", WorkOrder.asset_id, WorkOrder.checked_in_at),
    Index("ix_work_order_site_checked_in", WorkOrder.site_id, WorkOrder.checked_in_at),
    # the visit drill-downs (migration 0018): first-time fix in check-out order, and the visits
    # at the same asset or site as a page's (repeats and first-time fix are judged among them)
    Index("ix_work_order_checked_out_id", WorkOrder.checked_out_at, WorkOrder.id),
    # the reopen rate's reopened tickets (resumes are few among the SLA events); the backlog's
    # open tickets in id order, and those closed unresolved after a past moment
    Index("ix_sla_event_resume_at", SlaEvent.at, sqlite_where=RESUME, postgresql_where=RESUME),
    Index("ix_ticket_open_id", Ticket.id, sqlite_where=OPEN_TICKET, postgresql_where=OPEN_TICKET),
    Index(
        "ix_ticket_closed_unresolved", Ticket.closed_at, sqlite_where=UNRESOLVED, postgresql_where=UNRESOLVED
    ),
)
