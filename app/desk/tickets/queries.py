"""Read side of the ticket desk: filtered, cursor-paged lists and the merged timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from app.desk.sla import clock as sla_clock
from app.desk.tickets.service import get_ticket
from app.desk.tickets.status import DONE
from app.models import Asset, ReplyDelivery, Ticket, TicketEvent
from app.platform.http import paginate
from app.platform.like import LIKE_ESCAPE, like_contains


def accounts_with_assets(session: Session, account_ids: Iterable[int]) -> set[int]:
    ids = set(account_ids)
    if not ids:
        return set()
    return set(session.scalars(select(Asset.account_id).where(Asset.account_id.in_(ids)).distinct()))


def needs_asset(ticket: Ticket, with_assets: set[int]) -> bool:
    """The agent should pick the asset: none is set on a live ticket of a customer that has some."""
    return ticket.asset_id is None and ticket.status not in DONE and ticket.account_id in with_assets


def matches_text(q: str) -> ColumnElement[bool]:
    """`q` of the ticket lists: the subject contains it (taken literally), or it is the number."""
    term = q.strip()
    return or_(Ticket.subject.ilike(like_contains(term), escape=LIKE_ESCAPE), Ticket.number == term.upper())


def list_tickets(
    session: Session,
    *,
    status: Sequence[str] = (),
    priority: Sequence[str] = (),
    account_id: int | None = None,
    asset_id: int | None = None,
    breached: bool | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[Ticket], str | None]:
    stmt: Select[Any] = select(Ticket)
    if status:
        stmt = stmt.where(Ticket.status.in_(list(status)))
    if priority:
        stmt = stmt.where(Ticket.priority.in_(list(priority)))
    if account_id is not None:
        stmt = stmt.where(Ticket.account_id == account_id)
    if asset_id is not None:
        stmt = stmt.where(Ticket.asset_id == asset_id)
    if breached is not None:
        stmt = stmt.where(Ticket.sla_breached.is_(breached))
    if q and q.strip():
        stmt = stmt.where(matches_text(q))
    return paginate(session, stmt, Ticket.id, cursor=cursor, limit=limit)


def delivery_data(d: ReplyDelivery) -> dict[str, Any]:
    """A reply's mailing as the timeline shows it (`data.delivery`): status pending (queued) |
    sending | sent | failed | skipped (not mailed), to whom, how often tried, the last reason."""
    return {
        "status": d.status,
        "to": d.recipient or None,
        "attempts": d.attempts,
        "error": d.error,
        "sent_at": d.sent_at.isoformat() if d.sent_at else None,
    }


def delivery_of(session: Session, event_id: int) -> dict[str, Any] | None:
    d = session.scalar(select(ReplyDelivery).where(ReplyDelivery.event_id == event_id))
    return delivery_data(d) if d is not None else None


def timeline(session: Session, ticket_id: int) -> list[dict[str, Any]]:
    """Ticket events and the SLA ledger, merged by time."""
    get_ticket(session, ticket_id)
    items: list[tuple[datetime, int, int, dict[str, Any]]] = []
    deliveries = {
        d.event_id: d
        for d in session.scalars(select(ReplyDelivery).where(ReplyDelivery.ticket_id == ticket_id))
    }
    for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)):
        data = dict(e.data or {})
        if e.id in deliveries:
            data["delivery"] = delivery_data(deliveries[e.id])
        items.append(
            (
                e.at,
                0,
                e.id,
                {
                    "id": e.id,
                    "source": "ticket",
                    "at": e.at,
                    "kind": e.kind,
                    "metric": None,
                    "actor_id": e.actor_id,
                    "channel": e.channel,
                    "body": e.body,
                    "data": data,
                    "message_id": e.message_id,
                },
            )
        )
    for s in sla_clock.ledger(session, ticket_id):
        items.append(
            (
                s.at,
                1,
                s.id,
                {
                    "id": s.id,
                    "source": "sla",
                    "at": s.at,
                    "kind": f"sla_{s.kind}",
                    "metric": s.metric,
                    "actor_id": None,
                    "channel": s.channel,
                    "body": "",
                    "data": s.data or {},
                    "message_id": None,
                },
            )
        )
    items.sort(key=lambda x: (x[0], x[1], x[2]))
    return [x[3] for x in items]
