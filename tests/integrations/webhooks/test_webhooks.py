"""Outbound webhooks end to end with eager tasks and a real HTTP receiver on 127.0.0.1:
signatures, retries with backoff, dead letters, redelivery, event filtering, the claim that keeps
a delivery single, and the admin API (roles, secret shown once, If-Match)."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.integrations.webhooks import service as webhooks
from app.integrations.webhooks.signing import headers_for, new_secret, sign, verify_signature
from app.integrations.webhooks.tasks import deliver, deliver_due
from app.models import AuditLog, WebhookDelivery, WebhookSubscription
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import Receiver, running_receiver

SUBS = "/api/v1/webhooks/subscriptions"
DELIVERIES = "/api/v1/webhooks/deliveries"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _deliveries(db: Session, sub: WebhookSubscription) -> list[WebhookDelivery]:
    db.expire_all()
    return list(
        db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id)
            .order_by(WebhookDelivery.id)
        )
    )


def _make_due(db: Session, delivery_id: int) -> None:
    """Time travel: the backoff of this delivery has passed."""
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()


def _emit(db: Session, event: str = "ticket.created", **data: object) -> int:
    count = emit(db, event, {"ticket_id": 7, **data})
    db.commit()  # delivery is enqueued after the commit; eager tasks run it right here
    return count


# --- signing -------------------------------------------------------------------------------


def test_signature_verifies_and_rejects_tampering() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = b'{"type":"ticket.created","data":{"id":1}}'
    now = 1_800_000_000
    headers = headers_for(secret, "msg_1", body, timestamp=now)
    assert headers["webhook-signature"].startswith("v1,")
    assert verify_signature(secret, headers, body, now=now + 10)
    # header names are case-insensitive (as proxies may change them)
    assert verify_signature(secret, {k.title(): v for k, v in headers.items()}, body, now=now)
    assert not verify_signature(secret, headers, body + b" ", now=now)
    assert not verify_signature(new_secret(), headers, body, now=now)
    assert not verify_signature(secret, {**headers, "webhook-id": "msg_2"}, body, now=now)
    assert not verify_signature(secret, headers, body, now=now + 301)  # replay of an old request
    assert not verify_signature(secret, {"webhook-id": "msg_1"}, body, now=now)
    # during a rotation the header may carry several signatures; one match suffices
    both = f"{sign(new_secret(), 'msg_1', now, body)} {headers['webhook-signature']}"
    assert verify_signature(secret, {**headers, "webhook-signature": both}, body, now=now)


def test_signature_is_hmac_sha256_over_id_timestamp_body() -> None:
    """Computed independently of the module, as a receiver in another language would."""
    import base64
    import hashlib
    import hmac

    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123").decode()
    expected = base64.b64encode(
        hmac.new(b"0123456789abcdef0123", b"msg_x.1700000000.{}", hashlib.sha256).digest()
    ).decode()
    assert sign(secret, "msg_x", 1_700_000_000, b"{}") == f"v1,{expected}"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(5)
    for attempt in range(1, 8):
        nominal = webhooks.BACKOFF_BASE_S * 2 ** (attempt - 1)
        delays = [webhooks.backoff_delay(attempt, rng=rng) for _ in range(50)]
        assert all(0.75 * nominal <= d <= min(1.25 * nominal, webhooks.BACKOFF_CAP_S) for d in delays)
        assert len(set(delays)) > 1  # jittered
    assert webhooks.backoff_delay(30, rng=rng) == webhooks.BACKOFF_CAP_S
    with pytest.raises(ValueError):
        webhooks.backoff_delay(0)


# --- delivery ------------------------------------------------------------------------------


def test_event_is_posted_signed_and_marked_delivered(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    assert _emit(db, number="T-1") == 1
    [req] = receiver.requests
    assert req.path == "/hook"
    assert req.headers["content-type"] == "application/json"
    assert verify_signature(sub.secret, req.headers, req.body)
    payload = json.loads(req.body)
    assert payload["type"] == "ticket.created"
    assert payload["data"] == {"ticket_id": 7, "number": "T-1"}
    [d] = _deliveries(db, sub)
    assert req.headers["webhook-id"] == d.message_id
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("delivered", 1, 200, None)
    assert d.delivered_at is not None


def test_retries_after_500_with_backoff_then_succeeds(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    receiver.respond(500, 503)
    before = utcnow()
    _emit(db)
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, 500)
    assert d.last_error == "HTTP 500"  # an internal (allow-listed) receiver: its body is not kept
    wait = (d.next_attempt_at - before).total_seconds()
    assert 0.75 * webhooks.BACKOFF_BASE_S <= wait <= 1.25 * webhooks.BACKOFF_BASE_S + 5
    assert deliver_due() == {}  # not due yet: nothing is sent
    assert len(receiver.requests) == 1

    _make_due(db, d.id)
    assert deliver_due() == {"pending": 1}
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 2, 503)
    assert (d.next_attempt_at - utcnow()).total_seconds() > 0.75 * 2 * webhooks.BACKOFF_BASE_S - 5

    _make_due(db, d.id)
    assert deliver_due() == {"delivered": 1}
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code, d.last_error) == ("delivered", 3, 200, None)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {d.message_id}  # the same message id on every attempt: receivers dedupe on it
    assert all(verify_signature(sub.secret, r.headers, r.body) for r in receiver.requests)


def test_dead_after_max_attempts_listed_and_redelivered(
    db: Session, client: TestClient, login, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 3)
    admin = login("admin")
    sub = f.make_webhook_subscription(db, receiver.url)
    receiver.default_status = 500
    _emit(db)
    [d] = _deliveries(db, sub)
    for _ in range(2):
        _make_due(db, d.id)
        deliver_due()
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code) == ("dead", 3, 500)
    _make_due(db, d.id)
    assert deliver_due() == {}  # dead letters are not retried
    assert len(receiver.requests) == 3

    dead = client.get(DELIVERIES, params={"status": "dead"}, headers=admin).json()["items"]
    assert [(x["id"], x["attempts"], x["last_status_code"]) for x in dead] == [(d.id, 3, 500)]
    assert dead[0]["last_error"] == "HTTP 500"
    assert dead[0]["next_attempt_at"] is None
    assert client.get(DELIVERIES, params={"status": "pending"}, headers=admin).json()["items"] == []
    detail = client.get(f"{DELIVERIES}/{d.id}", headers=admin).json()
    assert detail["payload"]["type"] == "ticket.created"

    receiver.default_status = 204  # the receiver is fixed; an admin redelivers
    r = client.post(f"{DELIVERIES}/{d.id}/redeliver", headers=admin)
    assert r.status_code == 202, r.text
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code) == ("delivered", 1, 204)
    assert len(receiver.requests) == 4 and receiver.requests[-1].headers["webhook-id"] == d.message_id
    assert client.get(DELIVERIES, params={"status": "dead"}, headers=admin).json()["items"] == []
    audit = db.scalars(
        select(AuditLog.action).where(AuditLog.entity == "webhook_delivery", AuditLog.entity_id == d.id)
    ).all()
    assert audit == ["redeliver"]


def test_redeliver_refuses_pending_and_unknown(db: Session, client: TestClient, login) -> None:
    admin = login("admin")
    sub = f.make_webhook_subscription(db, "http://127.0.0.1:9/never")
    d = WebhookDelivery(
        message_id="msg_pending_1",
        subscription_id=sub.id,
        event="ticket.created",
        payload={"type": "ticket.created", "data": {}},
        next_attempt_at=utcnow() + timedelta(hours=1),
    )
    db.add(d)
    db.commit()
    r = client.post(f"{DELIVERIES}/{d.id}/redeliver", headers=admin)
    assert r.status_code == 409 and "pending" in r.json()["detail"]
    assert client.post(f"{DELIVERIES}/999999/redeliver", headers=admin).status_code == 404


def test_unreachable_receiver_records_the_network_error(db: Session) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sub = f.make_webhook_subscription(db, f"http://127.0.0.1:{port}/hook")
    _emit(db)
    [d] = _deliveries(db, sub)
    assert (d.status, d.attempts, d.last_status_code) == ("pending", 1, None)
    assert d.last_error is not None and d.last_error.startswith("ConnectError")


def test_events_are_filtered_per_subscription(db: Session, receiver: Receiver) -> None:
    tickets_only = f.make_webhook_subscription(db, receiver.url + "/tickets", events=["ticket.created"])
    everything = f.make_webhook_subscription(db, receiver.url + "/all")
    work_orders = f.make_webhook_subscription(db, receiver.url + "/wo", events=["workorder.scheduled"])
    paused = f.make_webhook_subscription(db, receiver.url + "/paused", active=False)
    assert _emit(db, "ticket.created") == 3  # the paused subscription's wait for its resume
    assert _emit(db, "workorder.scheduled") == 3
    assert sorted(r.path for r in receiver.requests) == [
        "/hook/all",
        "/hook/all",
        "/hook/tickets",
        "/hook/wo",
    ]
    assert [d.event for d in _deliveries(db, tickets_only)] == ["ticket.created"]
    assert [d.event for d in _deliveries(db, everything)] == ["ticket.created", "workorder.scheduled"]
    assert [d.event for d in _deliveries(db, work_orders)] == ["workorder.scheduled"]
    assert [(d.status, d.attempts) for d in _deliveries(db, paused)] == [("pending", 0)] * 2
    with pytest.raises(ValueError, match="unknown event"):
        emit(db, "ticket.exploded", {})


def test_paused_subscription_holds_deliveries_until_resumed(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    receiver.respond(500)
    _emit(db)
    [d] = _deliveries(db, sub)
    sub.active = False
    db.commit()
    _make_due(db, d.id)
    assert deliver_due() == {}
    assert len(receiver.requests) == 1
    sub.active = True
    db.commit()
    assert deliver_due() == {"delivered": 1}
    assert _deliveries(db, sub)[0].status == "delivered"


# --- one sender at a time ------------------------------------------------------------------


def _queued(db: Session, sub: WebhookSubscription) -> WebhookDelivery:
    """A delivery row written without enqueueing a task (as if the task were still in flight)."""
    d = WebhookDelivery(
        message_id=f"msg_{f.n()}",
        subscription_id=sub.id,
        event="ticket.updated",
        payload={"type": "ticket.updated", "data": {"ticket_id": 1}},
    )
    db.add(d)
    db.commit()
    return d


def test_claim_is_exclusive_and_duplicate_task_does_nothing(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    d = _queued(db, sub)
    first = webhooks.claim(db, d.id)
    assert first is not None and first.attempt == 1
    assert webhooks.claim(db, d.id) is None  # leased: a second worker gets nothing
    assert deliver(d.id) == {} and deliver_due() == {}
    assert receiver.requests == []
    outcome = webhooks.post(first)
    assert outcome.ok and webhooks.record_outcome(db, first, outcome) == "delivered"
    db.commit()
    assert deliver(d.id) == {}  # a duplicate task for a delivered row
    _make_due(db, d.id)
    assert deliver_due() == {}
    assert len(receiver.requests) == 1
    assert _deliveries(db, sub)[0].attempts == 1


def test_expired_lease_is_reclaimed_and_the_stale_worker_cannot_record(
    db: Session, receiver: Receiver
) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    d = _queued(db, sub)
    stale = webhooks.claim(db, d.id)
    assert stale is not None
    later = utcnow() + timedelta(seconds=webhooks.LEASE_S + 1)  # that worker died mid-send
    fresh = webhooks.claim(db, d.id, now=later)
    assert fresh is not None and fresh.attempt == 2
    ok = webhooks.Outcome(ok=True, status_code=200, error=None)
    assert webhooks.record_outcome(db, stale, ok) is None  # fenced by the attempt number
    assert webhooks.record_outcome(db, fresh, ok) == "delivered"


def test_rows_without_attempts_left_are_dead_lettered(
    db: Session, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "webhook_max_attempts", 2)
    sub = f.make_webhook_subscription(db, receiver.url)
    d = _queued(db, sub)
    db.execute(update(WebhookDelivery).where(WebhookDelivery.id == d.id).values(attempts=2))
    db.commit()
    assert deliver_due() == {"dead": 1}
    [d] = _deliveries(db, sub)
    assert d.status == "dead" and d.last_error == "the worker stopped during the last attempt"
    assert receiver.requests == []


# --- subscription API ----------------------------------------------------------------------


def test_only_admins_manage_webhooks(client: TestClient, login) -> None:
    body = {"url": "https://hooks.example/x"}
    assert client.get(SUBS).status_code == 401
    for role in ("agent", "dispatcher", "manager", "engineer"):
        headers = login(role)
        assert client.post(SUBS, json=body, headers=headers).status_code == 403
        assert client.get(SUBS, headers=headers).status_code == 403
        assert client.get(DELIVERIES, params={"status": "dead"}, headers=headers).status_code == 403
    admin = login("admin")
    assert client.post(SUBS, json=body, headers=admin).status_code == 201
    assert "ticket.created" in client.get("/api/v1/webhooks/events", headers=admin).json()


def test_secret_is_shown_once_and_rotates(client: TestClient, login, db: Session, receiver: Receiver) -> None:
    admin = login("admin")
    r = client.post(
        SUBS,
        json={"url": receiver.url, "events": ["ticket.updated", "ticket.created"], "description": "ERP"},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["secret_hint"] == "whsec_…" + secret[-4:]
    assert created["events"] == ["ticket.created", "ticket.updated"]
    assert r.headers["Location"] == f"{SUBS}/{created['id']}"
    got = client.get(r.headers["Location"], headers=admin)
    assert "secret" not in got.json() and got.json()["secret_hint"] == created["secret_hint"]
    assert all("secret" not in s for s in client.get(SUBS, headers=admin).json()["items"])
    assert secret not in got.text

    _emit(db, "ticket.created")
    assert verify_signature(secret, receiver.requests[0].headers, receiver.requests[0].body)

    assert client.post(f"{SUBS}/{created['id']}/rotate-secret", headers=admin).status_code == 428
    rotated = client.post(
        f"{SUBS}/{created['id']}/rotate-secret", headers={**admin, "If-Match": got.headers["ETag"]}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != secret
    _emit(db, "ticket.created")
    last = receiver.requests[-1]
    assert verify_signature(new, last.headers, last.body)
    assert not verify_signature(secret, last.headers, last.body)


def test_create_validates_url_and_events(client: TestClient, login) -> None:
    admin = login("admin")
    r = client.post(
        SUBS, json={"url": "https://h.example/x", "events": ["ticket.created", "nope"]}, headers=admin
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "nope" in r.json()["detail"] and "ticket.created" in r.json()["detail"]
    for url in ("ftp://h.example/x", "not a url", ""):
        assert client.post(SUBS, json={"url": url}, headers=admin).status_code == 422
    assert (
        client.post(SUBS, json={"url": "https://h.example", "secret": "mine"}, headers=admin).status_code
        == 422
    )  # unknown fields are refused
    assert client.get(SUBS, headers=admin).json()["items"] == []  # nothing half-written


def test_update_needs_if_match_and_delete_removes(client: TestClient, login, db: Session) -> None:
    admin = login("admin")
    created = client.post(SUBS, json={"url": "https://h.example/a"}, headers=admin)
    url = created.headers["Location"]
    etag = created.headers["ETag"]
    change = {"events": ["workorder.completed"], "active": False}
    assert client.patch(url, json=change, headers=admin).status_code == 428
    assert client.patch(url, json=change, headers={**admin, "If-Match": '"v999"'}).status_code == 412
    r = client.patch(url, json=change, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text
    assert (r.json()["events"], r.json()["active"]) == (["workorder.completed"], False)
    assert r.headers["ETag"] != etag
    stale = client.patch(url, json={"description": "x"}, headers={**admin, "If-Match": etag})
    assert stale.status_code == 412
    assert client.patch(url, json={}, headers={**admin, "If-Match": r.headers["ETag"]}).status_code == 422
    assert (
        client.patch(
            url, json={"events": ["bogus"]}, headers={**admin, "If-Match": r.headers["ETag"]}
        ).status_code
        == 422
    )
    listed = client.get(SUBS, params={"active": False}, headers=admin).json()["items"]
    assert [s["id"] for s in listed] == [created.json()["id"]]
    assert client.get(SUBS, params={"active": True}, headers=admin).json()["items"] == []

    assert client.delete(url, headers={**admin, "If-Match": etag}).status_code == 412
    assert client.delete(url, headers={**admin, "If-Match": r.headers["ETag"]}).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404
    actions = db.scalars(
        select(AuditLog.action).where(AuditLog.entity == "webhook_subscription").order_by(AuditLog.id)
    ).all()
    assert actions == ["create", "update", "delete"]


def test_create_is_idempotent_with_a_key(client: TestClient, login) -> None:
    admin = {**login("admin"), "Idempotency-Key": "sub-1"}
    first = client.post(SUBS, json={"url": "https://h.example/i"}, headers=admin)
    again = client.post(SUBS, json={"url": "https://h.example/i"}, headers=admin)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert len(client.get(SUBS, headers=admin).json()["items"]) == 1


def test_delivery_list_filters_and_pages(db: Session, client: TestClient, login, receiver: Receiver) -> None:
    admin = login("admin")
    sub = f.make_webhook_subscription(db, receiver.url)
    other = f.make_webhook_subscription(db, receiver.url + "/2", events=["ticket.updated"])
    for _ in range(3):
        _emit(db, "ticket.created")
    _emit(db, "ticket.updated")
    page = client.get(DELIVERIES, params={"subscription_id": sub.id, "limit": 2}, headers=admin).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = client.get(
        DELIVERIES, params={"subscription_id": sub.id, "cursor": page["next_cursor"]}, headers=admin
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    ids = [x["id"] for x in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    updated = client.get(DELIVERIES, params={"event": "ticket.updated"}, headers=admin).json()["items"]
    assert sorted(x["subscription_id"] for x in updated) == sorted([sub.id, other.id])
    assert client.get(DELIVERIES, params={"status": "bogus"}, headers=admin).status_code == 422
    assert client.get(f"{DELIVERIES}/999999", headers=admin).status_code == 404


def test_concurrent_claims_on_postgresql_let_exactly_one_worker_send(
    engine: Engine, committed_db: Session
) -> None:
    """Eight sessions race for one due delivery on separate connections: one wins."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the claim race is exercised on PostgreSQL")
    sub = f.make_webhook_subscription(committed_db, "http://127.0.0.1:9/race")
    d = _queued(committed_db, sub)
    barrier = threading.Barrier(8)

    def race(_: int) -> webhooks.Claim | None:
        with Session(bind=engine) as s:
            barrier.wait()
            got = webhooks.claim(s, d.id)
            s.commit()
            return got

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(race, range(8)))
        winners = [r for r in results if r is not None]
        assert len(winners) == 1 and winners[0].attempt == 1
        committed_db.expire_all()
        assert committed_db.get(WebhookDelivery, d.id).attempts == 1  # type: ignore[union-attr]
    finally:
        committed_db.rollback()
        committed_db.delete(committed_db.get(WebhookSubscription, sub.id))
        committed_db.commit()  # the foreign key cascades to the delivery


def test_ticket_api_change_reaches_the_receiver(
    db: Session, client: TestClient, login, receiver: Receiver
) -> None:
    """The real chain: a ticket created over the API emits ticket.created after its commit."""
    sub = f.make_webhook_subscription(db, receiver.url, events=["ticket.created"])
    account = f.make_account(db)
    db.commit()
    r = client.post(
        "/api/v1/tickets",
        json={"customer_id": account.id, "subject": "Boiler leaks", "priority": "P3", "channel": "phone"},
        headers=login("agent"),
    )
    assert r.status_code == 201, r.text
    [req] = receiver.requests
    assert verify_signature(sub.secret, req.headers, req.body)
    body = json.loads(req.body)
    assert body["type"] == "ticket.created" and body["data"]["ticket_id"] == r.json()["id"]
