"""HTTP conventions shared by the API routers: ETags, If-Match, cursor pages, idempotent creates."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import IdempotencyRecord, User
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Conflict, PreconditionFailed, PreconditionRequired, Unprocessable
from app.platform.inputs import INT_MAX

T = TypeVar("T")


def etag(version: int, row: str = "") -> str:
    """`"v3"`, or `"v3.<row>"` for a table whose ids may come back (see `row_tag`)."""
    return f'"v{version}.{row}"' if row else f'"v{version}"'


def row_tag(created_at: datetime) -> str:
    """Tells a row from a later one with the same id: SQLite hands a deleted row's id to the next
    insert, whose version starts at 1 again, so `"v1"` alone would let a stale If-Match through."""
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return hashlib.blake2s(str(micros).encode(), digest_size=4).hexdigest()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fields_tag(*values: object) -> str:
    """`row_tag` for a table without `created_at`: a tag of the row's own fields. A later row with a
    deleted one's id then matches a stale ETag only if it is the same in every field the client saw,
    so an If-Match never lets an edit through onto something other than what was read."""
    blob = json.dumps([str(v) for v in values], separators=(",", ":"))
    return hashlib.blake2s(blob.encode(), digest_size=4).hexdigest()


# One entity tag of an If-Match list: `"v3"`, `W/"v3"` (a proxy that compresses may weaken ours)
# or `*`. Quoted tags may hold commas (RFC 9110 8.8.3), so the list is not split on commas.
_ENTITY_TAG = re.compile(r'\s*(\*|(?:W/)?"[^"]*")\s*(?:,|$)')


def _if_match_tags(request: Request) -> list[str] | None:
    """The tags of every If-Match line (a list may come as one line or several), `W/` dropped;
    None when a line is not a list of entity tags (a bare `v3`, say)."""
    tags: list[str] = []
    for line in request.headers.getlist("if-match"):
        pos, line = 0, line.strip()
        while pos < len(line):
            found = _ENTITY_TAG.match(line, pos)
            if found is None:
                return None
            tags.append(found[1].removeprefix("W/"))
            pos = found.end()
    return tags


def require_if_match(request: Request, version: int, row: str = "") -> None:
    """API updates must name the version they were based on: never a silent overwrite.

    A list of ETags passes when one of them is the current one (RFC 9110). `*` ("whatever is there
    now") is refused with 428, as is no If-Match at all: it would let a client that never read the
    resource overwrite someone else's change, which is what the ETag is there to prevent."""
    if not any(line.strip() for line in request.headers.getlist("if-match")):
        raise PreconditionRequired(
            "Send If-Match with the ETag from your last GET; updates without it are refused."
        )
    tags = _if_match_tags(request)
    if tags is None:
        raise PreconditionFailed(
            'If-Match must be the ETag from your last GET, quotes included (e.g. "v3").',
            current_etag=etag(version, row),
        )
    if "*" in tags:
        raise PreconditionRequired(
            'If-Match: * is not accepted here; send the ETag from your last GET (e.g. "v3") '
            "so that a change made since is not overwritten."
        )
    if etag(version, row) not in tags:
        raise PreconditionFailed(
            "The resource was changed by someone else since you read it; reload and retry.",
            current_etag=etag(version, row),
        )


_IF_MATCH_DOC = (
    'The ETag of your last GET of the resource (`"v3"`); a list (`"v2", "v3"`) passes when one of '
    "them is current. `*` is refused (428): send the ETag you read."
)
_IDEMPOTENCY_KEY_DOC = (
    "Any unique string (at most 200 characters, e.g. a UUID) chosen by the client: a retry with the "
    "same key and body within the keep time replays the first answer (`Idempotent-Replayed: true`) "
    "instead of acting twice; the same key with another body is a 422."
)
IDEMPOTENCY_KEY_MAX = 200


def if_match_header(
    if_match: Annotated[str | None, Header(alias="If-Match", description=_IF_MATCH_DOC)] = None,
) -> None:
    """Declares If-Match for a route whose endpoint calls `require_if_match`; the endpoint reads the
    header itself. Optional here, so that a missing one is the endpoint's 428, not a 422; the
    OpenAPI marks it required (`app/platform/api_contract.py`)."""


def optional_if_match_header(
    if_match: Annotated[str | None, Header(alias="If-Match", description=_IF_MATCH_DOC)] = None,
) -> None:
    """Declares If-Match for a route that checks it only when it is sent."""


def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description=_IDEMPOTENCY_KEY_DOC, max_length=IDEMPOTENCY_KEY_MAX),
    ] = None,
) -> None:
    """Declares Idempotency-Key for a route whose endpoint calls `idempotent_create`, which reads the
    header itself (pages pass their form's key instead): without the declaration the OpenAPI only
    mentions it in prose and generated clients never send it."""


# A route's `dependencies=[IF_MATCH]`: its If-Match, 409, 412 and 428 appear in the OpenAPI.
IF_MATCH = Depends(if_match_header)
OPTIONAL_IF_MATCH = Depends(optional_if_match_header)
# A route's `dependencies=[IDEMPOTENCY_KEY]` when its endpoint runs `idempotent_create`.
IDEMPOTENCY_KEY = Depends(idempotency_key_header)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(value: int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = int(base64.urlsafe_b64decode(padded).decode())
        if not 0 < value <= INT_MAX:  # a forged cursor must not reach the database as an overflow
            raise ValueError(value)
        return value
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unprocessable(
            "The cursor is not valid; start again without it.",
            errors=[{"field": "cursor", "message": "invalid cursor"}],
        ) from exc


def paginate(
    session: Session, stmt: Select[Any], id_col: Any, *, cursor: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    """Keyset pagination on a descending integer id: stable under inserts, no OFFSET scans."""
    if cursor:
        stmt = stmt.where(id_col < decode_cursor(cursor))
    rows = session.scalars(stmt.order_by(id_col.desc()).limit(limit + 1)).all()
    next_cursor = encode_cursor(_id_of(rows[limit - 1])) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _id_of(row: Any) -> int:
    return int(row.id)


def _body_hash(body: Any) -> str:
    blob = json.dumps(jsonable_encoder(body), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def idempotent_create(
    session: Session,
    request: Request,
    user: User,
    body: Any,
    create: Callable[[], tuple[Any, dict[str, str]]],
    status_code: int = 201,
    key: str | None = None,
) -> JSONResponse:
    """Run `create` once per (user, Idempotency-Key); a retry replays the stored response.

    The record is written in the same transaction as the creation, so either both exist or
    neither does. Reusing a key with a different body is a client error (422). Pages pass the
    key from a hidden form field (`key`) instead of the header.
    """
    key = key or request.headers.get("idempotency-key")
    if not key:
        result, headers = create()
        return JSONResponse(jsonable_encoder(result), status_code=status_code, headers=headers)
    if len(key) > IDEMPOTENCY_KEY_MAX:
        raise Unprocessable(f"Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} characters.")
    digest = _body_hash(body)
    ttl = timedelta(hours=get_settings().idempotency_ttl_h)
    found = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id,
            IdempotencyRecord.key == key,
            IdempotencyRecord.created_at >= utcnow() - ttl,
        )
    )
    if found is not None:
        if found.request_hash != digest or found.path != request.url.path:
            raise Unprocessable(
                "This Idempotency-Key was already used with a different request; use a new key."
            )
        headers = {**found.response_headers, "Idempotent-Replayed": "true"}
        return JSONResponse(found.response_body, status_code=found.status_code, headers=headers)
    result, headers = create()
    payload = jsonable_encoder(result)
    record = IdempotencyRecord(
        user_id=user.id,
        key=key,
        method=request.method,
        path=request.url.path,
        request_hash=digest,
        status_code=status_code,
        response_body=payload,
        response_headers=headers,
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError as exc:  # a concurrent request with the same key won the race
        raise Conflict("A request with this Idempotency-Key is in progress; retry shortly.") from exc
    return JSONResponse(payload, status_code=status_code, headers=headers)
