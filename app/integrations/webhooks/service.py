"""Outbound webhooks: subscriptions, signed delivery, retry with backoff, dead letters.

Delivery is three steps so no transaction stays open during the HTTP call:
`claim` (one conditional UPDATE takes a lease on the row), `post` (no database), `record`
(stores the outcome, fenced by the attempt number taken in the claim). A row is therefore sent by
at most one worker at a time, and a duplicate task for a delivered row finds nothing to claim.
A claim whose worker died expires with its lease and the periodic `deliver_due` picks it up.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.orm import Session

from app.integrations.webhooks import targets
from app.integrations.webhooks.signing import headers_for, new_secret, verify_signature
from app.models import DeliveryStatus, User, WebhookDelivery, WebhookSubscription
from app.platform import metrics
from app.platform.audit import apply_changes, record
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.events import EVENTS
from app.platform.http import paginate
from app.platform.worker import enqueue

__all__ = [
    "Claim",
    "Outcome",
    "backoff_delay",
    "bury_exhausted",
    "claim",
    "create_subscription",
    "delete_subscription",
    "due_ids",
    "get_delivery",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "post",
    "record_outcome",
    "redeliver",
    "rotate_secret",
    "update_subscription",
    "verify_signature",
]

log = logging.getLogger(__name__)

TIMEOUT_S = 10.0  # per network step (connect, write, read); a slow receiver fails, then retries
LEASE_S = 120  # a claimed row is untouchable this long; well above TIMEOUT_S
BACKOFF_BASE_S = 60.0
BACKOFF_CAP_S = 6 * 3600.0
DUE_BATCH = 100
USER_AGENT = "Fieldline-Webhooks/1"
_ERROR_LEN = 500

D = WebhookDelivery
S = WebhookSubscription


# --- subscriptions -------------------------------------------------------------------------


def _check_events(events: Sequence[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Unprocessable(
            f"Unknown event(s): {', '.join(unknown)}. Known events: {', '.join(EVENTS)}.",
            errors=[{"field": "events", "message": f"unknown event {e!r}"} for e in unknown],
        )
    return sorted(set(events))  # stable order, no duplicates


def _check_url(url: str) -> str:
    try:
        targets.check_subscription_url(url)
    except targets.RefusedTarget as exc:
        raise Unprocessable(
            f"The URL is not allowed: {exc}.", errors=[{"field": "url", "message": str(exc)}]
        ) from exc
    return url


def create_subscription(
    session: Session,
    *,
    url: str,
    events: Sequence[str],
    description: str = "",
    active: bool = True,
    actor: User | None,
) -> WebhookSubscription:
    """A new subscription with a fresh secret (the caller shows it once; it is never listed)."""
    sub = S(
        url=_check_url(url),
        events=_check_events(events),
        description=description,
        active=active,
        secret=new_secret(),
        created_by=actor.id if actor else None,
    )
    session.add(sub)
    session.flush()
    record(
        session,
        actor,
        "webhook_subscription",
        sub.id,
        "create",
        {"url": [None, url], "events": [None, sub.events], "active": [None, active]},
    )
    return sub


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    sub = session.get(S, subscription_id)
    if sub is None:
        raise NotFound(f"Webhook subscription {subscription_id} does not exist.")
    return sub


def list_subscriptions(
    session: Session, *, active: bool | None, cursor: str | None, limit: int
) -> tuple[Sequence[WebhookSubscription], str | None]:
    stmt = select(S)
    if active is not None:
        stmt = stmt.where(S.active.is_(active))
    return paginate(session, stmt, S.id, cursor=cursor, limit=limit)


def update_subscription(
    session: Session, *, subscription_id: int, values: dict[str, Any], actor: User | None
) -> WebhookSubscription:
    """Change url, events, description or active. Pausing (active=false) keeps pending
    deliveries; they go out once the subscription is active again."""
    sub = get_subscription(session, subscription_id)
    if "events" in values:
        values = {**values, "events": _check_events(values["events"])}
    if "url" in values:
        values = {**values, "url": _check_url(values["url"])}
    changes = apply_changes(sub, values)
    if changes:
        session.flush()
        record(session, actor, "webhook_subscription", sub.id, "update", changes)
    return sub


def rotate_secret(session: Session, *, subscription_id: int, actor: User | None) -> WebhookSubscription:
    """Replace the secret; requests sent from now on are signed with the new one."""
    sub = get_subscription(session, subscription_id)
    sub.secret = new_secret()
    session.flush()
    record(session, actor, "webhook_subscription", sub.id, "rotate_secret", {})
    return sub


def delete_subscription(session: Session, *, subscription_id: int, actor: User | None) -> None:
    """Remove the subscription and its delivery history (the foreign key cascades)."""
    sub = get_subscription(session, subscription_id)
    session.delete(sub)
    session.flush()
    record(session, actor, "webhook_subscription", subscription_id, "delete", {"url": [sub.url, None]})


# --- deliveries: reading and redelivering --------------------------------------------------


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(D, delivery_id)
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} does not exist.")
    return delivery


def list_deliveries(
    session: Session,
    *,
    status: str | None,
    subscription_id: int | None,
    event: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[WebhookDelivery], str | None]:
    stmt: Select[Any] = select(D)
    if status is not None:
        stmt = stmt.where(D.status == status)
    if subscription_id is not None:
        stmt = stmt.where(D.subscription_id == subscription_id)
    if event is not None:
        stmt = stmt.where(D.event == event)
    return paginate(session, stmt, D.id, cursor=cursor, limit=limit)


def redeliver(session: Session, *, delivery_id: int, actor: User | None) -> WebhookDelivery:
    """Send a dead (or already delivered) message again with a fresh set of attempts.

    The message id stays the same, so a receiver that did get it can recognise the repeat.
    """
    delivery = get_delivery(session, delivery_id)
    if delivery.status == DeliveryStatus.pending:
        raise Conflict("This delivery is still pending; it is retried automatically.")
    sub = get_subscription(session, delivery.subscription_id)
    if not sub.active:
        raise Conflict("The subscription is paused; activate it before redelivering.")
    previous = delivery.status
    delivery.status = DeliveryStatus.pending
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.delivered_at = None
    session.flush()
    record(
        session,
        actor,
        "webhook_delivery",
        delivery.id,
        "redeliver",
        {"status": [previous, DeliveryStatus.pending.value]},
    )
    enqueue(session, "fieldline.webhooks.deliver", delivery_id=delivery.id)
    return delivery


# --- deliveries: sending -------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a worker needs to send one attempt; `attempt` fences the later `record_outcome`."""

    delivery_id: int
    message_id: str
    attempt: int
    url: str
    secret: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (1-based): base·2^(n-1), ±25 % jitter so
    receivers coming back from an outage are not hit by every retry at once; capped."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    raw = BACKOFF_BASE_S * 2.0 ** min(attempt - 1, 30)
    jitter: float = (rng or random).uniform(0.75, 1.25)
    return min(BACKOFF_CAP_S, raw * jitter)


def _due(now: datetime) -> list[ColumnElement[bool]]:
    active = select(S.id).where(S.active.is_(True))
    return [
        D.status == DeliveryStatus.pending.value,
        D.next_attempt_at <= now,
        D.attempts < get_settings().webhook_max_attempts,
        D.subscription_id.in_(active),
    ]


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def claim(session: Session, delivery_id: int, *, now: datetime | None = None) -> Claim | None:
    """Take a lease on a due delivery, or None when it is not due, done, or someone has it."""
    now = now or utcnow()
    cond = [D.id == delivery_id, *_due(now)]
    if session.get_bind().dialect.name == "postgresql":
        # Don't queue behind another worker's claim: a locked row is theirs, skip it.
        got = session.scalar(select(D.id).where(*cond).with_for_update(skip_locked=True, of=D))
        if got is None:
            return None
    lease = now + timedelta(seconds=LEASE_S)
    result = session.execute(
        update(D)
        .where(*cond)
        .values(attempts=D.attempts + 1, next_attempt_at=lease)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.execute(
        select(D.message_id, D.payload, D.attempts, S.url, S.secret)
        .join(S, S.id == D.subscription_id)
        .where(D.id == delivery_id)
    ).one()
    return Claim(
        delivery_id=delivery_id,
        message_id=row.message_id,
        attempt=row.attempts,
        url=row.url,
        secret=row.secret,
        body=_body(row.payload),
    )


def post(c: Claim, *, client: httpx.Client | None = None) -> Outcome:
    """POST one attempt to the checked address; any 2xx is success. Never raises for network
    trouble or a refused target (both are a failed attempt, retried with backoff)."""
    try:
        target = targets.pin(c.url)
    except targets.RefusedTarget as exc:
        return Outcome(ok=False, status_code=None, error=f"refused: {exc}"[:_ERROR_LEN])
    headers = {
        "host": target.host_header,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        **headers_for(c.secret, c.message_id, c.body),
    }
    # The TLS handshake and certificate check use the name; the connection goes to the address.
    extensions = {"sni_hostname": target.server_name} if target.server_name else None
    try:
        if client is not None:
            resp = client.post(target.url, content=c.body, headers=headers, extensions=extensions)
        else:
            with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as own:
                resp = own.post(target.url, content=c.body, headers=headers, extensions=extensions)
    except httpx.HTTPError as exc:
        return Outcome(ok=False, status_code=None, error=f"{type(exc).__name__}: {exc}"[:_ERROR_LEN])
    if 200 <= resp.status_code < 300:
        return Outcome(ok=True, status_code=resp.status_code, error=None)
    error = f"HTTP {resp.status_code}"
    if not target.internal:
        # An internal receiver's answer stays out of the log: the log is readable through the
        # API, and must not become a way to read internal services.
        snippet = resp.text[:200].strip()
        error += f": {snippet}" if snippet else ""
    return Outcome(ok=False, status_code=resp.status_code, error=error[:_ERROR_LEN])


def record_outcome(
    session: Session,
    c: Claim,
    outcome: Outcome,
    *,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> str | None:
    """Store the result of attempt `c.attempt`: delivered, retry later, or dead. Returns the new
    status, or None when the lease was lost (another worker re-claimed the row meanwhile)."""
    now = now or utcnow()
    values: dict[str, Any] = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.ok:
        status = DeliveryStatus.delivered
        values["delivered_at"] = now
    elif c.attempt >= get_settings().webhook_max_attempts:
        status = DeliveryStatus.dead
    else:
        status = DeliveryStatus.pending
        values["next_attempt_at"] = now + timedelta(seconds=backoff_delay(c.attempt, rng=rng))
    result = session.execute(
        update(D)
        .where(D.id == c.delivery_id, D.status == DeliveryStatus.pending.value, D.attempts == c.attempt)
        .values(status=status.value, **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        log.warning("webhook delivery %s: lease lost before recording attempt %s", c.delivery_id, c.attempt)
        return None
    if not outcome.ok:
        metrics.WEBHOOK_FAILURES.labels("dead" if status is DeliveryStatus.dead else "retry").inc()
    if status is DeliveryStatus.dead:
        log.warning(
            "webhook delivery %s is dead after %s attempts: %s", c.delivery_id, c.attempt, outcome.error
        )
    return status.value


def due_ids(session: Session, *, now: datetime | None = None, limit: int = DUE_BATCH) -> list[int]:
    """Deliveries whose (re)try time has come, oldest first."""
    now = now or utcnow()
    stmt = select(D.id).where(*_due(now)).order_by(D.next_attempt_at, D.id).limit(limit)
    return list(session.scalars(stmt))


def bury_exhausted(session: Session, *, now: datetime | None = None) -> int:
    """Dead-letter pending rows that have no attempts left (their last worker died mid-send, or
    the maximum was lowered) once their lease has run out."""
    now = now or utcnow()
    result = session.execute(
        update(D)
        .where(
            D.status == DeliveryStatus.pending.value,
            D.next_attempt_at <= now,
            D.attempts >= get_settings().webhook_max_attempts,
        )
        .values(
            status=DeliveryStatus.dead.value,
            last_error=func.coalesce(D.last_error, "the worker stopped during the last attempt"),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
