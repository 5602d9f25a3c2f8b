"""A slow, hung or trickling receiver, or a hung DNS resolver: every attempt ends at its deadline
(the whole request, the name lookup and the answer included), and it holds up only its own
subscription's deliveries, never the others'. TIMEOUT_S is shortened here so the tests take about
a second."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.webhooks import service as webhooks
from app.integrations.webhooks import targets
from app.integrations.webhooks.tasks import deliver_due
from app.models import WebhookDelivery, WebhookSubscription
from app.platform.db import utcnow
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import Receiver, running_receiver

DEADLINE_S = 0.6


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks, "TIMEOUT_S", DEADLINE_S)


def _queue(db: Session, sub: WebhookSubscription, n: int) -> WebhookDelivery:
    """A delivery row written without enqueueing a task (beat will find it)."""
    d = WebhookDelivery(
        message_id=f"msg_{f.n()}_{n}",
        subscription_id=sub.id,
        event="ticket.updated",
        payload={"type": "ticket.updated", "data": {"n": n}},
    )
    db.add(d)
    db.commit()
    return d


def _rows(db: Session, sub: WebhookSubscription) -> list[WebhookDelivery]:
    db.expire_all()
    return list(
        db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub.id)
            .order_by(WebhookDelivery.id)
        )
    )


def test_an_answer_trickled_past_the_deadline_is_a_failure(db: Session) -> None:
    with running_receiver() as rx:
        rx.trickle("/hook", seconds=3.0)
        sub = f.make_webhook_subscription(db, rx.url)
        claimed = webhooks.claim(db, _queue(db, sub, 1).id)
        assert claimed is not None
        started = time.monotonic()
        outcome = webhooks.post(claimed)
        took = time.monotonic() - started
    assert not outcome.ok and outcome.status_code is None
    assert outcome.error == f"timeout: no complete answer within {DEADLINE_S:g} s"
    assert took < DEADLINE_S + 0.5  # ended at the deadline, not when the receiver finished


def test_a_hung_receiver_does_not_hold_up_other_subscriptions(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    deadline_s = 2.0  # room for the four quick deliveries on a busy machine
    monkeypatch.setattr(webhooks, "TIMEOUT_S", deadline_s)
    with running_receiver() as rx:
        rx.hang("/slow", 5.0)
        slow = f.make_webhook_subscription(db, rx.base + "/slow")
        fast = f.make_webhook_subscription(db, rx.base + "/fast")
        for n in range(4):  # interleaved, the slow one's first: the order beat used to send them
            _queue(db, slow, n)
            _queue(db, fast, n)
        started = time.monotonic()
        counts = deliver_due()
        took = time.monotonic() - started
        fast_arrivals = [t - started for t in rx.arrivals("/fast")]
        slow_requests, most_at_once = len(rx.arrivals("/slow")), rx.most_held["/slow"]

    assert counts == {"delivered": 4, "pending": 1}
    assert len(fast_arrivals) == 4 and max(fast_arrivals) < deadline_s  # not behind the slow one
    assert took < deadline_s + 1.0  # the pass waited one deadline, not one per slow delivery
    assert (slow_requests, most_at_once) == (1, 1)  # a failing receiver: one attempt per pass
    first, *rest = _rows(db, slow)
    assert (first.status, first.attempts, first.last_error) == (
        "pending",
        1,
        f"timeout: no complete answer within {deadline_s:g} s",
    )
    assert first.next_attempt_at > utcnow()  # retried with backoff
    assert [(d.status, d.attempts) for d in rest] == [("pending", 0)] * 3  # not charged an attempt
    assert [(d.status, d.attempts) for d in _rows(db, fast)] == [("delivered", 1)] * 4


def test_one_attempt_in_flight_per_subscription(db: Session) -> None:
    sub = f.make_webhook_subscription(db, "http://127.0.0.1:9/one-at-a-time")
    first, second = _queue(db, sub, 1), _queue(db, sub, 2)
    other = f.make_webhook_subscription(db, "http://127.0.0.1:9/other")
    elsewhere = _queue(db, other, 1)
    sending = webhooks.claim(db, first.id)
    assert sending is not None
    assert webhooks.claim(db, second.id) is None  # its receiver has one attempt in flight
    assert webhooks.claim(db, elsewhere.id) is not None  # another receiver is not held up
    assert webhooks.next_due(db, sub.id) == second.id
    ok = webhooks.Outcome(ok=True, status_code=200, error=None)
    assert webhooks.record_outcome(db, sending, ok) == "delivered"
    assert webhooks.claim(db, second.id) is not None


def test_new_events_of_a_failing_subscription_wait_for_the_beat_pass(db: Session) -> None:
    with running_receiver() as receiver:
        _check_failing_subscription(db, receiver)


def _check_failing_subscription(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url)
    receiver.default_status = 503
    emit(db, "ticket.created", {"ticket_id": 1})
    db.commit()  # the delivery task runs here (eager): one failed attempt, backoff
    emit(db, "ticket.created", {"ticket_id": 2})
    db.commit()  # its receiver is failing: no attempt now
    assert len(receiver.requests) == 1
    assert [(d.status, d.attempts) for d in _rows(db, sub)] == [("pending", 1), ("pending", 0)]
    assert deliver_due() == {"pending": 1}  # beat tries the next one
    assert len(receiver.requests) == 2


@pytest.fixture
def hung_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """A resolver that answers nothing until the test ends (then fails): no real DNS is asked."""
    asked: list[str] = []
    released = threading.Event()

    def resolve(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        released.wait(10.0)  # a guard only: the test releases it
        raise OSError(f"{host}: the resolver gave up")

    monkeypatch.setattr(targets, "_resolve", resolve)
    try:
        yield asked
    finally:
        released.set()


def test_a_hung_resolver_ends_the_attempt_at_the_deadline_and_it_is_retried(
    db: Session, hung_resolver: list[str]
) -> None:
    sub = f.make_webhook_subscription(db, "https://erp.hangs.example/hook")
    row = _queue(db, sub, 1)
    started = time.monotonic()
    counts = deliver_due()
    took = time.monotonic() - started
    assert hung_resolver == ["erp.hangs.example"]
    assert counts == {"pending": 1}
    assert took < DEADLINE_S + 1.0  # ended at the deadline, not when the resolver gave up
    [d] = _rows(db, sub)
    assert (d.id, d.status, d.attempts, d.last_status_code, d.last_error) == (
        row.id,
        "pending",
        1,
        None,
        f"timeout: erp.hangs.example did not resolve within {DEADLINE_S:g} s",
    )
    assert d.next_attempt_at > utcnow()  # retried with backoff, as for any other failure
