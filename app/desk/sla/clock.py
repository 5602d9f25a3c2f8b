"""The SLA clock of a ticket, on the database: entitlement, ledger writes, due times, breaches.

Every channel (API, e-mail, pages, work-order hooks) goes through app/desk/tickets/service.py, which calls
these functions, so each action leaves the same SlaEvent rows. Due times on the ticket are a
cache, recomputed from the ledger after every ledger write (`refresh`). The ledger is append-only:
a mistaken `met` is cancelled by a later `withdraw` entry (`withdraw`), which `has_event` honours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.desk.sla import calendar as sla
from app.models import (
    Asset,
    BusinessCalendar,
    Contract,
    Holiday,
    SlaEvent,
    SlaTarget,
    Ticket,
    TicketStatus,
    WorkOrder,
    WorkOrderStatus,
)
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Unprocessable
from app.platform.events import emit

DEFAULT_CALENDAR = "Standard business hours"
DEFAULT_HOURS = {str(d): [["08:00", "17:00"]] for d in range(5)}
DONE = (TicketStatus.resolved.value, TicketStatus.closed.value)
DUE_FIELD = {
    "first_response": "first_response_due_at",
    "arrival": "arrival_due_at",
    "resolution": "resolution_due_at",
}
ACHIEVED_FIELD = {
    "first_response": "first_response_at",
    "arrival": "arrived_at",
    "resolution": "resolved_at",
}


@dataclass(frozen=True)
class Entitlement:
    tier: str
    calendar_id: int
    contract_id: int | None

    def as_dict(self, priority: str, targets: dict[str, int]) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "calendar_id": self.calendar_id,
            "contract_id": self.contract_id,
            "priority": priority,
            "targets": targets,
        }


def default_calendar(session: Session) -> BusinessCalendar:
    """The calendar of tickets without a covering contract; created on first use."""
    stmt = select(BusinessCalendar).where(BusinessCalendar.name == DEFAULT_CALENDAR)
    cal = session.scalar(stmt)
    if cal is not None:
        return cal
    cal = BusinessCalendar(
        name=DEFAULT_CALENDAR, timezone=get_settings().time_zone, hours=DEFAULT_HOURS, always_open=False
    )
    try:
        with session.begin_nested():
            session.add(cal)
    except IntegrityError:  # created concurrently by another request
        found = session.scalar(stmt)
        assert found is not None
        return found
    return cal


def local_day(at: datetime) -> date:
    return at.astimezone(ZoneInfo(get_settings().time_zone)).date()


def _valid(contract: Contract | None, day: date) -> bool:
    return contract is not None and contract.starts_on <= day <= contract.ends_on


def _account_contract(session: Session, account_id: int, day: date, priority: str) -> Contract | None:
    """The best of the account's contracts valid on `day`: the shortest resolution target for the
    ticket's priority, then arrival, then first response; equal targets → the lowest id (stable)."""
    valid = session.scalars(
        select(Contract)
        .where(Contract.account_id == account_id, Contract.starts_on <= day, Contract.ends_on >= day)
        .order_by(Contract.id)
    ).all()

    def rank(c: Contract) -> tuple[int, int, int, int]:
        t = targets_for(session, tier=c.tier, priority=priority)
        return (t["resolution"], t["arrival"], t["first_response"], c.id)

    return min(valid, key=rank, default=None)


def entitlement(
    session: Session,
    *,
    asset_id: int | None,
    opened_at: datetime,
    account_id: int | None = None,
    priority: str = "P3",
) -> Entitlement:
    """The asset's contract if it is valid on the opening day. With the asset not known yet, the
    account's best contract valid that day (docs/tickets.md, "SLA entitlement"): a Platinum
    customer calling about an unnamed machine gets Platinum, not Standard. Else 'standard'."""
    day = local_day(opened_at)
    if asset_id is not None:
        asset = session.get(Asset, asset_id)
        contract = session.get(Contract, asset.contract_id) if asset and asset.contract_id else None
        if contract is not None and _valid(contract, day):
            return Entitlement(contract.tier, contract.calendar_id, contract.id)
    elif account_id is not None:
        contract = _account_contract(session, account_id, day, priority)
        if contract is not None:
            return Entitlement(contract.tier, contract.calendar_id, contract.id)
    return Entitlement("standard", default_calendar(session).id, None)


def ticket_entitlement(session: Session, ticket: Ticket) -> Entitlement:
    return entitlement(
        session,
        asset_id=ticket.asset_id,
        opened_at=ticket.opened_at,
        account_id=ticket.account_id,
        priority=ticket.priority,
    )


def targets_for(session: Session, *, tier: str, priority: str) -> dict[str, int]:
    """Minutes per metric for tier × priority; falls back to 'standard', then built-ins."""
    for t in (tier, "standard"):
        row = session.scalar(select(SlaTarget).where(SlaTarget.tier == t, SlaTarget.priority == priority))
        if row is not None:
            return {
                "first_response": row.first_response_min,
                "arrival": row.arrival_min,
                "resolution": row.resolution_min,
            }
    return dict(sla.DEFAULT_TARGETS[priority])


def load_calendar(session: Session, calendar_id: int) -> sla.Calendar:
    cal = session.get(BusinessCalendar, calendar_id)
    if cal is None:
        raise Unprocessable(f"Business calendar {calendar_id} does not exist.")
    days = session.scalars(select(Holiday.day).where(Holiday.calendar_id == calendar_id)).all()
    try:
        return sla.make_calendar(
            timezone=cal.timezone, hours=cal.hours or {}, holidays=days, always_open=cal.always_open
        )
    except ValueError as exc:
        raise Unprocessable(f"Business calendar {cal.name!r} is not usable: {exc}.") from exc


def ledger(session: Session, ticket_id: int) -> list[SlaEvent]:
    return list(
        session.scalars(
            select(SlaEvent).where(SlaEvent.ticket_id == ticket_id).order_by(SlaEvent.at, SlaEvent.id)
        )
    )


def entries_of(rows: list[SlaEvent]) -> list[sla.Entry]:
    return [sla.Entry(at=r.at, kind=r.kind, metric=r.metric, data=r.data or {}) for r in rows]


def _add(
    session: Session,
    ticket: Ticket,
    kind: str,
    *,
    at: datetime,
    channel: str | None,
    metric: str | None = None,
    data: dict[str, Any] | None = None,
) -> SlaEvent:
    event = SlaEvent(ticket_id=ticket.id, at=at, kind=kind, metric=metric, channel=channel, data=data or {})
    session.add(event)
    session.flush()
    return event


def start(session: Session, ticket: Ticket, *, channel: str | None) -> None:
    """Resolve the entitlement at opening and start the clock."""
    ent = ticket_entitlement(session, ticket)
    targets = targets_for(session, tier=ent.tier, priority=ticket.priority)
    ticket.sla_tier, ticket.sla_calendar_id, ticket.sla_contract_id = (
        ent.tier,
        ent.calendar_id,
        ent.contract_id,
    )
    _add(
        session,
        ticket,
        "start",
        at=ticket.opened_at,
        channel=channel,
        data=ent.as_dict(ticket.priority, targets),
    )
    refresh(session, ticket, now=ticket.opened_at)


def retarget(session: Session, ticket: Ticket, *, at: datetime, channel: str | None, reason: str) -> bool:
    """Re-resolve entitlement and targets (after a priority or asset/contract change).

    Due times are replayed from the whole ledger with the new targets, so time already spent
    paused stays excluded. Returns False when nothing changed."""
    rows = ledger(session, ticket.id)
    before = sla.current_targets(entries_of(rows))
    ent = ticket_entitlement(session, ticket)
    after = ent.as_dict(ticket.priority, targets_for(session, tier=ent.tier, priority=ticket.priority))
    if before == after:
        return False
    ticket.sla_tier, ticket.sla_calendar_id, ticket.sla_contract_id = (
        ent.tier,
        ent.calendar_id,
        ent.contract_id,
    )
    _add(
        session,
        ticket,
        "retarget",
        at=at,
        channel=channel,
        data={"reason": reason, "from": before, "to": after},
    )
    refresh(session, ticket, now=at)
    return True


def pause(session: Session, ticket: Ticket, *, at: datetime, channel: str | None, reason: str) -> None:
    refresh(session, ticket, now=at)  # a target reached before the pause is a breach
    _add(session, ticket, "pause", at=at, channel=channel, data={"reason": reason})
    refresh(session, ticket, now=at)


def resume(
    session: Session,
    ticket: Ticket,
    *,
    at: datetime,
    channel: str | None,
    reason: str,
    reopened: bool = False,
) -> None:
    """`reopened` marks a reopen: resolution has to be met anew from here."""
    data: dict[str, Any] = {"reason": reason, **({"reopened": True} if reopened else {})}
    _add(session, ticket, "resume", at=at, channel=channel, data=data)
    refresh(session, ticket, now=at)


def stop(session: Session, ticket: Ticket, *, at: datetime, channel: str | None, reason: str) -> None:
    refresh(session, ticket, now=at)
    _add(session, ticket, "stop", at=at, channel=channel, data={"reason": reason})
    refresh(session, ticket, now=at)


def withdrawn(rows: list[SlaEvent]) -> set[int]:
    """Ids of the entries a later `withdraw` entry cancelled (the ledger itself is never edited)."""
    ids = ((r.data or {}).get("withdraws") for r in rows if r.kind == "withdraw")
    return {i for i in ids if isinstance(i, int)}


def has_event(rows: list[SlaEvent], kind: str, metric: str, *, since: datetime | None = None) -> bool:
    """An entry of `kind` for `metric` that still counts: withdrawn entries do not."""
    gone = withdrawn(rows)
    return any(
        r.kind == kind and r.metric == metric and r.id not in gone and (since is None or r.at >= since)
        for r in rows
    )


def _reopened_at(rows: list[SlaEvent]) -> datetime | None:
    reopens = [r.at for r in rows if r.kind == "resume" and (r.data or {}).get("reopened")]
    return reopens[-1] if reopens else None


def settle(session: Session, ticket: Ticket, metric: str, *, channel: str | None) -> None:
    """Record met or breach once the metric was achieved (ticket.<achieved> is set). A closed
    ticket's ledger is final: nothing more is written to it."""
    if ticket.status == TicketStatus.closed:
        return
    achieved = getattr(ticket, ACHIEVED_FIELD[metric])
    rows = ledger(session, ticket.id)
    # A reopened ticket must be resolved again: only outcomes after the reopen count.
    since = _reopened_at(rows) if metric == "resolution" else None
    if has_event(rows, "met", metric, since=since) or has_event(rows, "breach", metric, since=since):
        refresh(session, ticket, now=achieved)
        return
    due = _due(ticket, calendar_of(session, ticket), rows, metric)
    if due is None:  # no target for this metric: nothing to settle
        refresh(session, ticket, now=achieved)
        return
    if achieved <= due:
        _add(
            session,
            ticket,
            "met",
            at=achieved,
            channel=channel,
            metric=metric,
            data={"due_at": due.isoformat()},
        )
    else:
        _breach(session, ticket, metric, due=due, channel=channel, rows=rows)
    refresh(session, ticket, now=achieved)


def withdraw(
    session: Session,
    ticket: Ticket,
    metric: str,
    *,
    at: datetime,
    channel: str | None,
    reason: str,
    data: dict[str, Any] | None = None,
) -> SlaEvent | None:
    """Take back an achievement recorded by mistake (a check-in at the wrong visit): the ticket's
    achieved time is cleared and a `withdraw` entry is appended naming the `met` it cancels, so
    the ledger stays append-only and the next achievement is settled afresh. A breach is never
    withdrawn: it says the target ran out with the metric unachieved, and the real achievement
    can only come later than the withdrawn one. Nothing is written to a closed ticket's ledger or
    when nothing was achieved. Returns the entry written."""
    field = ACHIEVED_FIELD[metric]
    achieved = getattr(ticket, field)
    if ticket.status == TicketStatus.closed or achieved is None:
        return None
    rows = ledger(session, ticket.id)
    gone = withdrawn(rows)
    met = next(
        (r for r in reversed(rows) if r.kind == "met" and r.metric == metric and r.id not in gone), None
    )
    event = _add(
        session,
        ticket,
        "withdraw",
        at=at,
        channel=channel,
        metric=metric,
        data={
            "withdraws": met.id if met is not None else None,
            "achieved_at": achieved.isoformat(),
            "reason": reason,
            **(data or {}),
        },
    )
    setattr(ticket, field, None)
    refresh(session, ticket, now=at)  # a target that ran out meanwhile is a breach now
    return event


def calendar_of(session: Session, ticket: Ticket) -> sla.Calendar | None:
    return load_calendar(session, ticket.sla_calendar_id) if ticket.sla_calendar_id else None


def _due(ticket: Ticket, cal: sla.Calendar | None, rows: list[SlaEvent], metric: str) -> datetime | None:
    entries = entries_of(rows)
    targets = sla.current_targets(entries).get("targets", {})
    if metric not in targets or cal is None:
        return None
    segments = sla.metric_segments(entries, getattr(ticket, ACHIEVED_FIELD[metric]))
    return sla.due_at(cal, segments, timedelta(minutes=targets[metric]))


def _breach(
    session: Session, ticket: Ticket, metric: str, *, due: datetime, channel: str | None, rows: list[SlaEvent]
) -> None:
    if has_event(rows, "breach", metric):
        return
    try:
        with session.begin_nested():  # the unique index settles a race with the breach checker
            _add(
                session,
                ticket,
                "breach",
                at=due,
                channel=channel,
                metric=metric,
                data={"due_at": due.isoformat(), "detected_at": utcnow().isoformat()},
            )
    except IntegrityError:
        return
    ticket.sla_breached = True
    emit(
        session,
        "ticket.sla_breached",
        {"ticket_id": ticket.id, "number": ticket.number, "metric": metric, "due_at": due},
    )


def arrival_applies(session: Session, ticket: Ticket) -> bool:
    """On-site arrival is only measured for tickets that got a visit (a work order)."""
    if ticket.first_visit_at is not None or ticket.arrived_at is not None:
        return True
    return bool(
        session.scalar(
            select(
                exists().where(
                    WorkOrder.ticket_id == ticket.id, WorkOrder.status != WorkOrderStatus.cancelled.value
                )
            )
        )
    )


def refresh(session: Session, ticket: Ticket, *, now: datetime | None = None) -> None:
    """Recompute the cached due times and pause flag from the ledger; record breaches of
    targets that ran out (breach `at` = the instant the target ran out)."""
    now = now or utcnow()
    rows = ledger(session, ticket.id)
    entries = entries_of(rows)
    segments = sla.running_segments(entries)
    paused = bool(entries) and ticket.status not in DONE and (not segments or segments[-1][1] is not None)
    if ticket.sla_paused != paused:
        ticket.sla_paused = paused
    cal = calendar_of(session, ticket)
    for metric, field in DUE_FIELD.items():
        due = _due(ticket, cal, rows, metric)
        if getattr(ticket, field) != due:
            setattr(ticket, field, due)
        achieved = getattr(ticket, ACHIEVED_FIELD[metric])
        if (
            due is not None
            and achieved is None
            and due <= now
            and ticket.status not in DONE
            and (metric != "arrival" or arrival_applies(session, ticket))
        ):
            _breach(session, ticket, metric, due=due, channel=None, rows=rows)
            rows = ledger(session, ticket.id)


def retarget_contract(session: Session, *, contract_id: int, at: datetime | None = None) -> int:
    """Re-target the open tickets a contract covers (or covered), after the contract's tier,
    calendar or validity changed or an asset moved onto it; returns tickets changed."""
    at = at or utcnow()
    contract = session.get(Contract, contract_id)
    account_id = contract.account_id if contract else None
    stmt = (
        select(Ticket)
        .outerjoin(Asset, Asset.id == Ticket.asset_id)
        .where(
            Ticket.status.not_in(DONE),
            or_(
                Ticket.sla_contract_id == contract_id,
                Asset.contract_id == contract_id,
                # tickets without an asset take their SLA from the account's contracts
                (Ticket.asset_id.is_(None)) & (Ticket.account_id == account_id),
            ),
        )
        .order_by(Ticket.id)
    )
    return sum(retarget(session, t, at=at, channel=None, reason="contract") for t in session.scalars(stmt))
