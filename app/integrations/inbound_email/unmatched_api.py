"""/api/v1/inbound-email/unmatched: held mail from unknown senders, for desk users (agents,
dispatchers, managers, admins) to attach to a customer or discard (unmatched.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.inbound_email import unmatched
from app.integrations.inbound_email.schemas import AttachBody, AttachResult, UnmatchedList, UnmatchedRecord
from app.models import Account, UnmatchedEmail
from app.platform.deps import DbSession, DeskUser
from app.platform.http import IF_MATCH, etag, require_if_match

router = APIRouter(prefix="/inbound-email", tags=["inbound"])


def record(db: Session, row: UnmatchedEmail) -> UnmatchedRecord:
    out = UnmatchedRecord.model_validate(row)
    if row.suggested_account_id is not None:
        out.suggested_account_name = db.scalar(
            select(Account.name).where(Account.id == row.suggested_account_id)
        )
    return out


@router.get("/unmatched")
def list_unmatched(db: DbSession, user: DeskUser) -> UnmatchedList:
    """The held mail, oldest first (at most 200; `held` counts them all)."""
    rows = unmatched.list_held(db)
    return UnmatchedList(items=[record(db, r) for r in rows], held=unmatched.held_count(db))


@router.get("/unmatched/{unmatched_id}", responses={200: {"headers": {"ETag": {}}}})
def get_unmatched(unmatched_id: int, db: DbSession, user: DeskUser, response: Response) -> UnmatchedRecord:
    row = unmatched.get(db, unmatched_id)
    response.headers["ETag"] = etag(row.version)
    return record(db, row)


@router.post("/unmatched/{unmatched_id}/attach", status_code=201, dependencies=[IF_MATCH])
def attach_unmatched(
    unmatched_id: int, body: AttachBody, request: Request, db: DbSession, user: DeskUser
) -> JSONResponse:
    """Attach to a customer: the sender becomes its contact (an active one with that address is
    reused) and the ticket is opened from the mail, threaded on its Message-ID. Needs If-Match; a
    mail already attached or discarded is a 409."""
    row = unmatched.get(db, unmatched_id)
    require_if_match(request, row.version)
    ticket = unmatched.attach(db, row, account_id=body.account_id, name=body.name, actor=user)
    out = AttachResult(
        ticket_id=ticket.id,
        number=ticket.number or "",
        contact_id=ticket.contact_id or 0,
        unmatched=record(db, row),
    )
    return JSONResponse(
        out.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/tickets/{ticket.id}", "ETag": etag(row.version)},
    )


@router.post("/unmatched/{unmatched_id}/discard", dependencies=[IF_MATCH])
def discard_unmatched(
    unmatched_id: int, request: Request, db: DbSession, user: DeskUser, response: Response
) -> UnmatchedRecord:
    """Discard: hidden from the list, kept for audit. Needs If-Match; a mail already attached or
    discarded is a 409."""
    row = unmatched.get(db, unmatched_id)
    require_if_match(request, row.version)
    unmatched.discard(db, row, actor=user)
    response.headers["ETag"] = etag(row.version)
    return record(db, row)
