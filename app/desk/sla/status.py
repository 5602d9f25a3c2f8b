"""SLA reporting and scanning: per-metric state for the API, and the periodic breach check."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from app.desk.sla import calendar as sla
from app.desk.sla.clock import (
    ACHIEVED_FIELD,
    DONE,
    DUE_FIELD,
    arrival_applies,
    calendar_of,
    entries_of,
    has_event,
    ledger,
    refresh,
)
from app.models import SlaEvent, Ticket, WorkOrder, WorkOrderStatus
from app.platform.db import utcnow


def metric_states(session: Session, ticket: Ticket, *, now: datetime | None = None) -> dict[str, Any]:
    """Targets, due times, elapsed/remaining covered time, paused time and a state per metric."""
    now = now or utcnow()
    rows = ledger(session, ticket.id)
    entries = entries_of(rows)
    current = sla.current_targets(entries)
    targets = current.get("targets", {})
    cal = calendar_of(session, ticket)
    segments = sla.running_segments(entries)
    started = rows[0].at if rows else None
    clock_end = now
    if ticket.status in DONE and segments and segments[-1][1] is not None:
        clock_end = min(now, max(e for _, e in segments if e is not None))
    paused = sla.wall_paused(segments, started=started, until=clock_end)
    out: dict[str, Any] = {
        "tier": current.get("tier", ticket.sla_tier),
        "priority": current.get("priority"),
        "calendar_id": current.get("calendar_id"),
        "contract_id": current.get("contract_id"),
        "paused": ticket.sla_paused,
        "breached": ticket.sla_breached,
        "paused_seconds": int(paused.total_seconds()),
        "paused_covered_seconds": int(
            sla.covered(cal, started, clock_end).total_seconds()
            - sla.elapsed(cal, segments, clock_end).total_seconds()
        )
        if cal and started
        else 0,
        "metrics": [],
    }
    for metric in sla.METRICS:
        if metric not in targets or cal is None:
            continue
        achieved = getattr(ticket, ACHIEVED_FIELD[metric])
        msegs = sla.metric_segments(entries, achieved)
        due = sla.due_at(cal, msegs, timedelta(minutes=targets[metric]))
        spent = sla.elapsed(cal, msegs, achieved or now)
        target = timedelta(minutes=targets[metric])
        breached = has_event(rows, "breach", metric)
        if achieved is not None:
            state = "met" if due is not None and achieved <= due else "breached"
        elif metric == "arrival" and not arrival_applies(session, ticket):
            state = "not_applicable"
        elif ticket.status in DONE:
            state = "stopped"
        elif breached or (due is not None and due <= now):
            state = "breached"
        else:
            state = "paused" if ticket.sla_paused else "running"
        out["metrics"].append(
            {
                "metric": metric,
                "target_minutes": targets[metric],
                "due_at": due,
                "achieved_at": achieved,
                "state": state,
                "breached": breached or state == "breached",
                "elapsed_seconds": int(spent.total_seconds()),
                "remaining_seconds": int(max(target - spent, timedelta(0)).total_seconds()),
            }
        )
    return out


def check_breaches(session: Session, *, now: datetime | None = None) -> list[tuple[int, str]]:
    """Mark every target that ran out and is not yet marked; returns (ticket id, metric)."""
    now = now or utcnow()
    found: list[tuple[int, str]] = []
    conds = []
    for metric, due_field in DUE_FIELD.items():
        due_col = getattr(Ticket, due_field)
        achieved_col = getattr(Ticket, ACHIEVED_FIELD[metric])
        already = exists().where(
            SlaEvent.ticket_id == Ticket.id, SlaEvent.kind == "breach", SlaEvent.metric == metric
        )
        cond = and_(due_col.is_not(None), due_col <= now, achieved_col.is_(None), ~already)
        if metric == "arrival":  # only tickets with a visit are measured on arrival
            cond = and_(
                cond,
                or_(
                    Ticket.first_visit_at.is_not(None),
                    exists().where(
                        WorkOrder.ticket_id == Ticket.id, WorkOrder.status != WorkOrderStatus.cancelled.value
                    ),
                ),
            )
        conds.append(cond)
    stmt = select(Ticket).where(Ticket.status.not_in(DONE), or_(*conds)).order_by(Ticket.id).limit(500)
    for ticket in session.scalars(stmt):
        before = {r.metric for r in ledger(session, ticket.id) if r.kind == "breach"}
        refresh(session, ticket, now=now)
        after = {r.metric for r in ledger(session, ticket.id) if r.kind == "breach"}
        found.extend((ticket.id, m) for m in sorted(m for m in after - before if m))
    return found
