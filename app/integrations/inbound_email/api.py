"""/api/v1/inbound/email: raw RFC 5322 messages from the mail relay (shared-secret auth)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from app.desk.tickets.schemas import InboundResult
from app.integrations.inbound_email.service import receive_email
from app.platform.config import get_settings
from app.platform.deps import DbSession
from app.platform.errors import AppError, ServiceUnavailable, Unauthorized

router = APIRouter(prefix="/inbound", tags=["inbound"])
MAX_BYTES = 25 * 1024 * 1024
ACCEPTED = ("message/rfc822", "text/plain")


class UnsupportedMediaType(AppError):
    status_code, title = 415, "Unsupported media type"


class ContentTooLarge(AppError):
    status_code, title = 413, "Content too large"


def relay_token(request: Request) -> None:
    """The relay proves itself with X-Relay-Token; without a configured token nothing is let in."""
    expected = get_settings().inbound_email_token
    if not expected:
        raise ServiceUnavailable("Inbound e-mail is not configured (INBOUND_EMAIL_TOKEN).")
    given = request.headers.get("x-relay-token", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("Missing or wrong X-Relay-Token.")


async def raw_message(request: Request) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ACCEPTED:
        raise UnsupportedMediaType(f"Send the raw message as {' or '.join(ACCEPTED)}.")
    if int(request.headers.get("content-length") or 0) > MAX_BYTES:
        raise ContentTooLarge(f"Messages over {MAX_BYTES // (1024 * 1024)} MB are refused.")
    raw = await request.body()
    if len(raw) > MAX_BYTES:
        raise ContentTooLarge(f"Messages over {MAX_BYTES // (1024 * 1024)} MB are refused.")
    return raw


# The endpoint reads the raw message itself (`raw_message`): FastAPI cannot see that body.
_MESSAGE = {"schema": {"type": "string", "format": "binary"}}
_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "The raw RFC 5322 message as the relay received it.",
        "content": {ctype: _MESSAGE for ctype in ACCEPTED},
    },
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A Message-ID seen before (its ticket), or an automatic mail that threads onto no "
        'ticket (`action: "ignored"`), or past the daily caps on held mail (`reason: "held-limit"`): '
        "nothing written",
        "model": InboundResult,
    },
    202: {
        "description": 'An unknown sender\'s mail, held for a desk user (`action: "held"`, `unmatched_id`)',
        "model": InboundResult,
    },
    401: {"description": "Missing or wrong X-Relay-Token"},
    413: {"description": f"A message over {MAX_BYTES // (1024 * 1024)} MB"},
    415: {"description": f"Not sent as {' or '.join(ACCEPTED)}"},
    422: {"description": "Refused: no sender, MIME past a cap (nesting, parts, headers)"},
    503: {"description": "INBOUND_EMAIL_TOKEN is not configured (or the service is busy)"},
}


@router.post(
    "/email",
    status_code=201,
    response_model=InboundResult,
    dependencies=[Depends(relay_token)],
    responses=_RESPONSES,
    openapi_extra=_OPENAPI,
)
def inbound_email(raw: Annotated[bytes, Depends(raw_message)], db: DbSession) -> JSONResponse:
    """201 for a new ticket or a threaded reply, 200 for a Message-ID seen before, 200 `ignored`
    (nothing written) for an automatic mail that threads onto no ticket, 202 `held` for an unknown
    sender's mail (kept for a desk user; 200 `ignored`, reason `held-limit`, past the daily caps)."""
    got = receive_email(db, raw=raw)
    if got.held is not None:  # an unknown sender's mail, kept for a person (202: accepted, no ticket yet)
        kept = InboundResult(action=got.action, unmatched_id=got.held.id)
        return JSONResponse(
            kept.model_dump(exclude_none=True),
            status_code=202 if got.action == "held" else 200,
            headers={"Location": f"/api/v1/inbound-email/unmatched/{got.held.id}"},
        )
    if got.ticket is None or got.event is None:
        ignored = InboundResult(action=got.action, reason=got.ignored_as, marker=got.reason)
        return JSONResponse(ignored.model_dump(exclude_none=True), status_code=200)
    db.flush()
    body = InboundResult(
        ticket_id=got.ticket.id, number=got.ticket.number or "", event_id=got.event.id, action=got.action
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=200 if got.action == "duplicate" else 201,
        headers={"Location": f"/api/v1/tickets/{got.ticket.id}"},
    )
