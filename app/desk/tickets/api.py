"""/api/v1/tickets: the ticket desk API (desk roles only; engineers get 403)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.desk.sla import status as sla_status
from app.desk.tickets import queries as ticket_queries
from app.desk.tickets import queue
from app.desk.tickets import service as tickets
from app.desk.tickets.schemas import (
    CallIn,
    MessageIn,
    SlaRead,
    TicketCreate,
    TicketEventRead,
    TicketRead,
    TicketUpdate,
    Timeline,
    TimelineItem,
    TransitionIn,
)
from app.models import Channel, Priority, Ticket, TicketEvent, TicketStatus
from app.platform.db import utcnow
from app.platform.deps import DbSession, DeskUser
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Page,
    etag,
    idempotent_create,
    require_if_match,
)

router = APIRouter(prefix="/tickets", tags=["tickets"])
CHANNEL = "api"  # the channel recorded on timeline and SLA events caused through this API


def _read(ticket: Ticket, with_assets: set[int]) -> TicketRead:
    """`with_assets`: the ids of accounts (of these tickets) that have assets."""
    out = TicketRead.model_validate(ticket)
    out.allowed_transitions = [TicketStatus(s) for s in tickets.manual_next(ticket, at=utcnow())]
    out.needs_asset = ticket_queries.needs_asset(ticket, with_assets)
    out.sla_next_metric, out.sla_next_due_at = queue.next_due(ticket)
    return out


def _read_one(db: DbSession, ticket: Ticket) -> TicketRead:
    return _read(ticket, ticket_queries.accounts_with_assets(db, [ticket.account_id]))


def _with_etag(db: DbSession, ticket: Ticket, response: Response) -> TicketRead:
    db.flush()  # the version is final only after the last flush
    response.headers["ETag"] = etag(ticket.version)
    return _read_one(db, ticket)


@router.post(
    "",
    status_code=201,
    response_model=TicketRead,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_ticket(body: TicketCreate, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """Open a ticket. Honours Idempotency-Key: a retry replays the first response."""

    def _create() -> tuple[TicketRead, dict[str, str]]:
        ticket = tickets.create_ticket(
            db,
            account_id=body.customer_id,
            contact_id=body.contact_id,
            asset_id=body.asset_id,
            subject=body.subject,
            description=body.description,
            priority=body.priority.value,
            channel=body.channel.value,
            category=body.category,
            actor=user,
        )
        db.flush()
        return _read_one(db, ticket), {
            "Location": f"/api/v1/tickets/{ticket.id}",
            "ETag": etag(ticket.version),
        }

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.get("")
def list_tickets(
    db: DbSession,
    user: DeskUser,
    status: Annotated[list[TicketStatus], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    priority: Annotated[list[Priority], Query()] = [],  # noqa: B006
    customer_id: int | None = None,
    customer: int | None = None,
    asset_id: int | None = None,
    product: int | None = None,
    channel: Channel | None = None,
    breached: bool | None = None,
    view: Literal["mine", "team", "unassigned", "breaching_soon"] | None = None,
    team: int | None = None,
    sla_due_before: datetime | None = None,
    sort: Literal["sla_risk", "newest"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[TicketRead]:
    """All tickets newest first; or, with `view` / `product` / `channel` / `sla_due_before` /
    `sort` / `team`, the desk's queue: live tickets ordered by the next SLA due time (docs/board.md).
    Every filter applies in both; both are keyset-paged (`next_cursor`, opaque; docs/tickets.md)."""
    if view or product is not None or channel or sla_due_before or sort or team is not None:
        query = queue.QueueQuery(
            view=view,
            status=[s.value for s in status],
            priority=[p.value for p in priority],
            account_id=customer if customer is not None else customer_id,
            product_model_id=product,
            asset_id=asset_id,
            channel=channel.value if channel else None,
            breached=breached,
            q=q,
            sla_due_before=sla_due_before,
            team_id=team,
            sort=sort or "sla_risk",
        )
        found, after = queue.list_queue(db, user, query, limit=limit, cursor=cursor)
        with_assets = ticket_queries.accounts_with_assets(db, [t.account_id for t in found])
        return Page[TicketRead](items=[_read(t, with_assets) for t in found], next_cursor=after)
    rows, next_cursor = ticket_queries.list_tickets(
        db,
        status=[s.value for s in status],
        priority=[p.value for p in priority],
        account_id=customer if customer is not None else customer_id,
        asset_id=asset_id,
        breached=breached,
        q=q,
        cursor=cursor,
        limit=limit,
    )
    with_assets = ticket_queries.accounts_with_assets(db, [t.account_id for t in rows])
    return Page[TicketRead](items=[_read(t, with_assets) for t in rows], next_cursor=next_cursor)


@router.get("/{ticket_id}")
def get_ticket(ticket_id: int, db: DbSession, user: DeskUser, response: Response) -> TicketRead:
    return _with_etag(db, tickets.get_ticket(db, ticket_id), response)


@router.patch("/{ticket_id}", dependencies=[IF_MATCH])
def update_ticket(
    ticket_id: int, body: TicketUpdate, request: Request, db: DbSession, user: DeskUser, response: Response
) -> TicketRead:
    """Change fields; needs If-Match. A priority or asset change re-targets the SLA."""
    ticket = tickets.get_ticket(db, ticket_id)
    require_if_match(request, ticket.version)
    values = body.model_dump(mode="json", exclude_unset=True)
    ticket = tickets.update_ticket(db, ticket_id=ticket_id, values=values, actor=user, channel=CHANNEL)
    return _with_etag(db, ticket, response)


@router.post("/{ticket_id}/transitions", dependencies=[IF_MATCH])
def transition(
    ticket_id: int, body: TransitionIn, request: Request, db: DbSession, user: DeskUser, response: Response
) -> TicketRead:
    """Change status; needs If-Match. Illegal moves answer 409 naming the allowed states."""
    ticket = tickets.get_ticket(db, ticket_id)
    require_if_match(request, ticket.version)
    ticket = tickets.transition(
        db, ticket_id=ticket_id, to=body.to.value, reason=body.reason, actor=user, channel=CHANNEL
    )
    return _with_etag(db, ticket, response)


def _post_event(
    ticket_id: int,
    body: BaseModel,
    request: Request,
    db: DbSession,
    user: DeskUser,
    add: Callable[[], TicketEvent],
) -> JSONResponse:
    """A timeline entry created through the API (reply, note, call): 404 first, Idempotency-Key
    honoured, 201 + Location of the entry."""
    tickets.get_ticket(db, ticket_id)  # 404 before anything is stored

    def _create() -> tuple[TicketEventRead, dict[str, str]]:
        event = add()
        db.flush()
        out = TicketEventRead.model_validate(event)
        delivery = ticket_queries.delivery_of(db, event.id)
        if delivery is not None:  # a reply: queued for mailing, or why it is not mailed
            out.data = {**out.data, "delivery": delivery}
        return out, {"Location": f"/api/v1/tickets/{ticket_id}/timeline#{event.id}"}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.post(
    "/{ticket_id}/replies", status_code=201, response_model=TicketEventRead, dependencies=[IDEMPOTENCY_KEY]
)
def reply(ticket_id: int, body: MessageIn, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """A public reply to the customer (the first one is the first response)."""
    return _post_event(
        ticket_id,
        body,
        request,
        db,
        user,
        lambda: tickets.add_reply(db, ticket_id=ticket_id, body=body.text, actor=user, channel=CHANNEL),
    )


@router.post(
    "/{ticket_id}/notes", status_code=201, response_model=TicketEventRead, dependencies=[IDEMPOTENCY_KEY]
)
def note(ticket_id: int, body: MessageIn, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """An internal note."""
    return _post_event(
        ticket_id,
        body,
        request,
        db,
        user,
        lambda: tickets.add_note(db, ticket_id=ticket_id, body=body.text, actor=user, channel=CHANNEL),
    )


@router.post(
    "/{ticket_id}/calls", status_code=201, response_model=TicketEventRead, dependencies=[IDEMPOTENCY_KEY]
)
def log_call(ticket_id: int, body: CallIn, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """Log a phone call with the customer (desk roles; engineers get 403). A human contact: the
    first one is the first response, its contact channel is phone. Honours Idempotency-Key."""
    return _post_event(
        ticket_id,
        body,
        request,
        db,
        user,
        lambda: tickets.log_call(
            db,
            ticket_id=ticket_id,
            direction=body.direction,
            summary=body.summary,
            duration_min=body.duration_min,
            actor=user,
            channel=CHANNEL,
        ),
    )


@router.get("/{ticket_id}/timeline")
def timeline(ticket_id: int, db: DbSession, user: DeskUser) -> Timeline:
    return Timeline(items=[TimelineItem(**i) for i in ticket_queries.timeline(db, ticket_id)])


@router.get("/{ticket_id}/sla")
def sla(ticket_id: int, db: DbSession, user: DeskUser) -> SlaRead:
    ticket = tickets.get_ticket(db, ticket_id)
    return SlaRead(**sla_status.metric_states(db, ticket))
