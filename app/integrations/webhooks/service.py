"""Outbound webhooks: subscriptions, signed delivery, retry with backoff, dead letters.

Delivery is three steps so no transaction stays open during the HTTP call:
`claim` (one conditional UPDATE takes a lease on the row: status `sending`), `post` (no database;
a hard deadline of TIMEOUT_S for the whole attempt, the DNS lookup included), `record` (stores the
outcome, fenced by the attempt number taken in the claim). A subscription has at most one attempt
in flight: a row is claimed only while none of its subscription's other rows is `sending`, so one
worker sends one subscription's rows one after the other, oldest first (`next_due`), and a
duplicate task for a delivered row finds nothing to claim. A claim whose worker died expires with
its lease and the periodic `deliver_due` picks it up.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

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
from app.platform.outbox import enqueue

__all__ = [
    "Claim",
    "Outcome",
    "backoff_delay",
    "bury_exhausted",
    "claim",
    "create_subscription",
    "delete_subscription",
    "due_subscriptions",
    "expire_stale",
    "get_delivery",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "next_due",
    "post",
    "record_outcome",
    "redeliver",
    "retrying",
    "subscription_of",
    "rotate_secret",
    "secret_withheld",
    "update_subscription",
    "verify_signature",
]

log = logging.getLogger(__name__)

# The whole attempt (DNS lookup, connect, send, the complete answer) must fit in this; a later
# answer is a failure, retried with backoff. Read at each attempt, so tests can shorten it.
TIMEOUT_S = 10.0
LEASE_S = 120  # a claimed row is untouchable this long; well above TIMEOUT_S
BACKOFF_BASE_S = 60.0
BACKOFF_CAP_S = 6 * 3600.0
DUE_SUBSCRIPTIONS = 200  # subscriptions one beat pass looks at
USER_AGENT = "Fieldline-Webhooks/1"
_ERROR_LEN = 500
_ANSWER_CAP = 64 * 1024  # bytes of an answer read; the rest is not waited for


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
    sub = WebhookSubscription(
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
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound(f"Webhook subscription {subscription_id} does not exist.")
    return sub


def list_subscriptions(
    session: Session, *, active: bool | None, cursor: str | None, limit: int
) -> tuple[Sequence[WebhookSubscription], str | None]:
    stmt = select(WebhookSubscription)
    if active is not None:
        stmt = stmt.where(WebhookSubscription.active.is_(active))
    return paginate(session, stmt, WebhookSubscription.id, cursor=cursor, limit=limit)


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
    if "active" in changes and sub.active:
        # Resumed: what waited goes out now, oldest first, rather than at the next beat pass.
        first = next_due(session, sub.id)
        if first is not None:
            enqueue(session, "fieldline.webhooks.deliver", delivery_id=first)
    return sub


def rotate_secret(session: Session, *, subscription_id: int, actor: User | None) -> WebhookSubscription:
    """Replace the secret; requests sent from now on are signed with the new one."""
    sub = get_subscription(session, subscription_id)
    sub.secret = new_secret()
    session.flush()
    record(session, actor, "webhook_subscription", sub.id, "rotate_secret", {})
    return sub


def secret_withheld(session: Session, *, subscription_id: int, secret: str) -> str | None:
    """Why a secret once shown for this subscription may not be shown again ("rotated",
    "deleted"), or None while it is still the one requests are signed with."""
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        return "deleted"
    return None if hmac.compare_digest(sub.secret, secret) else "rotated"


def delete_subscription(session: Session, *, subscription_id: int, actor: User | None) -> None:
    """Remove the subscription and its delivery history (the foreign key cascades)."""
    sub = get_subscription(session, subscription_id)
    session.delete(sub)
    session.flush()
    record(session, actor, "webhook_subscription", subscription_id, "delete", {"url": [sub.url, None]})


# --- deliveries: reading and redelivering --------------------------------------------------


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = session.get(WebhookDelivery, delivery_id)
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
    stmt: Select[Any] = select(WebhookDelivery)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if subscription_id is not None:
        stmt = stmt.where(WebhookDelivery.subscription_id == subscription_id)
    if event is not None:
        stmt = stmt.where(WebhookDelivery.event == event)
    return paginate(session, stmt, WebhookDelivery.id, cursor=cursor, limit=limit)


def redeliver(session: Session, *, delivery_id: int, actor: User | None) -> WebhookDelivery:
    """Send a dead, expired (or already delivered) message again with a fresh set of attempts.

    The message id stays the same, so a receiver that did get it can recognise the repeat.
    """
    delivery = get_delivery(session, delivery_id)
    if delivery.status in (DeliveryStatus.pending, DeliveryStatus.sending):
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


_WAITING = (DeliveryStatus.pending.value, DeliveryStatus.sending.value)


def _due(now: datetime) -> list[ColumnElement[bool]]:
    """Rows whose (re)try time has come: pending past their backoff, or sending past their lease
    (the worker died), with attempts left, of an active subscription (a paused one's wait)."""
    active = select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
    return [
        WebhookDelivery.status.in_(_WAITING),
        WebhookDelivery.next_attempt_at <= now,
        WebhookDelivery.attempts < get_settings().webhook_max_attempts,
        WebhookDelivery.subscription_id.in_(active),
    ]


def _in_flight(subscription_id: int, now: datetime) -> ColumnElement[bool]:
    """One of the subscription's rows is being sent (claimed, and its lease has not run out)."""
    other = aliased(WebhookDelivery)
    return exists().where(
        other.subscription_id == subscription_id,
        other.status == DeliveryStatus.sending.value,
        other.next_attempt_at > now,
    )


def _body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def claim(session: Session, delivery_id: int, *, now: datetime | None = None) -> Claim | None:
    """Take a lease on a due delivery, or None when it is not due, done, someone has it, or
    another delivery of its subscription is in flight (one at a time per receiver)."""
    now = now or utcnow()
    subscription_id = subscription_of(session, delivery_id)
    if subscription_id is None:
        return None
    cond = [WebhookDelivery.id == delivery_id, *_due(now), ~_in_flight(subscription_id, now)]
    if session.get_bind().dialect.name == "postgresql":
        # Claims for one subscription take turns, so the in-flight check sees the other's claim
        # (SQLite's writers take turns anyway). NO KEY UPDATE does not block the inserts of new
        # deliveries (their foreign key). A locked row is someone else's claim: skip, don't wait.
        turn = session.scalar(
            select(WebhookSubscription.id)
            .where(WebhookSubscription.id == subscription_id)
            .with_for_update(skip_locked=True, key_share=True)
        )
        got = turn and session.scalar(
            select(WebhookDelivery.id).where(*cond).with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        if not got:
            return None
    lease = now + timedelta(seconds=LEASE_S)
    result = session.execute(
        update(WebhookDelivery)
        .where(*cond)
        .values(
            status=DeliveryStatus.sending.value,
            attempts=WebhookDelivery.attempts + 1,
            next_attempt_at=lease,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.execute(
        select(
            WebhookDelivery.message_id,
            WebhookDelivery.payload,
            WebhookDelivery.attempts,
            WebhookSubscription.url,
            WebhookSubscription.secret,
        )
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(WebhookDelivery.id == delivery_id)
    ).one()
    return Claim(
        delivery_id=delivery_id,
        message_id=row.message_id,
        attempt=row.attempts,
        url=row.url,
        secret=row.secret,
        body=_body(row.payload),
    )


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already: the request is over
        sock.shutdown(socket.SHUT_RDWR)


class _Deadline:
    """Ends an attempt at its deadline, whatever it waits for. httpx's timeouts bound each network
    step, not the whole, so a receiver trickling its answer a byte at a time could otherwise hold
    an attempt (and the worker) for as long as it liked. At the deadline the connection's socket is
    shut down, which wakes the blocked read at once; httpcore's trace hook tells us the socket."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def left(self) -> float:
        return max(0.001, self.at - time.monotonic())

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self.at

    def trace(self, event: str, info: dict[str, Any]) -> None:
        # TLS wraps (and detaches) the TCP socket: note the wrapped one too.
        if event not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        sock = info["return_value"].get_extra_info("socket")
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _exchange(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    extensions: dict[str, Any],
    deadline: _Deadline,
) -> tuple[int, str]:
    """POST and read the answer (its first _ANSWER_CAP bytes): the status code and the text."""
    with client.stream(
        "POST", url, content=body, headers=headers, extensions=extensions, timeout=deadline.left()
    ) as resp:
        answer = b""
        for chunk in resp.iter_bytes():
            answer += chunk
            if len(answer) >= _ANSWER_CAP:
                break
        return resp.status_code, answer[:_ANSWER_CAP].decode(resp.encoding or "utf-8", errors="replace")


def post(c: Claim, *, client: httpx.Client | None = None) -> Outcome:
    """POST one attempt to the checked address; a 2xx answer, complete within TIMEOUT_S, is
    success. Never raises for network trouble, a late answer or a refused target (each is a
    failed attempt, retried with backoff)."""
    with _Deadline(TIMEOUT_S) as deadline:
        try:
            # The lookup counts toward the deadline: a hung resolver ends the attempt like a hung
            # receiver does (getaddrinfo cannot be interrupted; pin gives up on it instead).
            target = targets.pin(c.url, timeout=deadline.left())
        except targets.LookupTimeout as exc:
            error = f"timeout: {exc.host} did not resolve within {deadline.seconds:g} s"
            if not deadline.passed():  # the lookups still pending elsewhere left none for this one
                error = f"timeout: {exc}"
            return Outcome(ok=False, status_code=None, error=error[:_ERROR_LEN])
        except targets.RefusedTarget as exc:
            return Outcome(ok=False, status_code=None, error=f"refused: {exc}"[:_ERROR_LEN])
        headers = {
            "host": target.host_header,
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            **headers_for(c.secret, c.message_id, c.body),
        }
        extensions: dict[str, Any] = {"trace": deadline.trace}
        if target.server_name:
            # The TLS handshake and certificate check use the name; the connection goes to the address.
            extensions["sni_hostname"] = target.server_name
        late = Outcome(
            ok=False, status_code=None, error=f"timeout: no complete answer within {deadline.seconds:g} s"
        )
        try:
            if client is not None:
                status_code, text = _exchange(client, target.url, c.body, headers, extensions, deadline)
            else:
                # A connection of its own: the deadline shuts down the socket it saw being opened.
                with httpx.Client(timeout=deadline.left(), follow_redirects=False, trust_env=False) as own:
                    status_code, text = _exchange(own, target.url, c.body, headers, extensions, deadline)
        except httpx.HTTPError as exc:
            if deadline.passed():
                return late
            return Outcome(ok=False, status_code=None, error=f"{type(exc).__name__}: {exc}"[:_ERROR_LEN])
        if deadline.passed():
            return late
    if 200 <= status_code < 300:
        return Outcome(ok=True, status_code=status_code, error=None)
    error = f"HTTP {status_code}"
    if not target.internal:
        # An internal receiver's answer stays out of the log: the log is readable through the
        # API, and must not become a way to read internal services.
        snippet = text[:200].strip()
        error += f": {snippet}" if snippet else ""
    return Outcome(ok=False, status_code=status_code, error=error[:_ERROR_LEN])


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
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == c.delivery_id,
            WebhookDelivery.status == DeliveryStatus.sending.value,
            WebhookDelivery.attempts == c.attempt,
        )
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


def subscription_of(session: Session, delivery_id: int) -> int | None:
    return session.scalar(select(WebhookDelivery.subscription_id).where(WebhookDelivery.id == delivery_id))


def next_due(session: Session, subscription_id: int, *, now: datetime | None = None) -> int | None:
    """The subscription's oldest delivery that may be sent now (events go out in order, except
    that one waiting out its backoff does not hold up the later ones)."""
    now = now or utcnow()
    return session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.subscription_id == subscription_id, *_due(now))
        .order_by(WebhookDelivery.id)
        .limit(1)
    )


def retrying(session: Session, subscription_id: int, *, now: datetime | None = None) -> bool:
    """True while one of the subscription's deliveries failed and waits for its retry: its receiver
    is failing, so new events wait for the beat pass (one attempt per pass) instead of each costing
    a worker a full TIMEOUT_S right away."""
    now = now or utcnow()
    failed = exists().where(
        WebhookDelivery.subscription_id == subscription_id,
        WebhookDelivery.status == DeliveryStatus.pending.value,
        WebhookDelivery.attempts > 0,
        WebhookDelivery.next_attempt_at > now,
    )
    return bool(session.scalar(select(failed)))


def due_subscriptions(
    session: Session, *, now: datetime | None = None, limit: int = DUE_SUBSCRIPTIONS
) -> list[int]:
    """Subscriptions with a delivery to send now, the one waiting longest first."""
    now = now or utcnow()
    stmt = (
        select(WebhookDelivery.subscription_id)
        .where(*_due(now))
        .group_by(WebhookDelivery.subscription_id)
        .order_by(func.min(WebhookDelivery.id))
        .limit(limit)
    )
    return list(session.scalars(stmt))


def bury_exhausted(session: Session, *, now: datetime | None = None) -> int:
    """Dead-letter rows that have no attempts left (their last worker died mid-send, or the maximum
    was lowered) once their lease has run out."""
    now = now or utcnow()
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status.in_(_WAITING),
            WebhookDelivery.next_attempt_at <= now,
            WebhookDelivery.attempts >= get_settings().webhook_max_attempts,
        )
        .values(
            status=DeliveryStatus.dead.value,
            last_error=func.coalesce(
                WebhookDelivery.last_error, "the worker stopped during the last attempt"
            ),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expire_stale(session: Session, *, now: datetime | None = None) -> int:
    """Expire deliveries not sent within WEBHOOK_EXPIRE_DAYS of their event (a subscription paused
    that long, or a receiver failing with a raised WEBHOOK_MAX_ATTEMPTS): a resume must not flood
    the receiver with stale events. An admin can still redeliver one. Rows in flight are left."""
    now = now or utcnow()
    days = get_settings().webhook_expire_days
    result = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.created_at < now - timedelta(days=days),
            or_(
                WebhookDelivery.status == DeliveryStatus.pending.value,
                and_(
                    WebhookDelivery.status == DeliveryStatus.sending.value,
                    WebhookDelivery.next_attempt_at <= now,
                ),
            ),
        )
        .values(
            status=DeliveryStatus.expired.value,
            last_error=func.coalesce(WebhookDelivery.last_error, f"not sent within {days} days of the event"),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
