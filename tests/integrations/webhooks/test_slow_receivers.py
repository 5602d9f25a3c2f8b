"""A slow, hung or trickling receiver: every attempt ends at its deadline (the whole request, the
answer included), and it holds up only its own subscription's deliveries, never the others'.
TIMEOUT_S is shortened here so the tests take about a second."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.webhooks import service as webhooks
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


@dataclass
class Timed:
    """Answers /fast at once and /slow after `hang_s`; notes when each request arrived."""

    url: str
    hang_s: float
    arrivals: dict[str, list[float]] = field(default_factory=lambda: {"/fast": [], "/slow": []})
    slow_at_once: int = 0
    slow_most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def timed_receiver(hang_s: float) -> Iterator[Timed]:
    timed: Timed

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with timed.lock:
                timed.arrivals[self.path].append(time.monotonic())
                if self.path == "/slow":
                    timed.slow_at_once += 1
                    timed.slow_most_at_once = max(timed.slow_most_at_once, timed.slow_at_once)
            if self.path == "/slow":
                time.sleep(timed.hang_s)
                with timed.lock:
                    timed.slow_at_once -= 1
            try:
                self.send_response(204)
                self.end_headers()
            except OSError:
                pass  # the sender gave up at its deadline

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    timed = Timed(url=f"http://127.0.0.1:{server.server_address[1]}", hang_s=hang_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield timed
    finally:
        server.shutdown()
        server.server_close()


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(v)
        for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
        if k.lower() == b"content-length"
    )
    while len(body) < length:
        body += conn.recv(65536)


@contextmanager
def trickling_receiver(seconds: float) -> Iterator[str]:
    """Answers `200 OK`, then a header one byte every 0.1 s for `seconds`: each read succeeds well
    within any per-read timeout, the answer as a whole takes `seconds`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            try:
                _read_request(conn)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ")
                until = time.monotonic() + seconds
                while time.monotonic() < until and not stop.is_set():
                    time.sleep(0.1)
                    conn.sendall(b"a")
                conn.sendall(b"\r\n\r\n")
            except OSError:
                pass  # the sender hung up

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        listener.close()


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
    with trickling_receiver(seconds=3.0) as url:
        sub = f.make_webhook_subscription(db, url)
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
    with timed_receiver(hang_s=5.0) as rx:
        slow = f.make_webhook_subscription(db, rx.url + "/slow")
        fast = f.make_webhook_subscription(db, rx.url + "/fast")
        for n in range(4):  # interleaved, the slow one's first: the order beat used to send them
            _queue(db, slow, n)
            _queue(db, fast, n)
        started = time.monotonic()
        counts = deliver_due()
        took = time.monotonic() - started
        fast_arrivals = [t - started for t in rx.arrivals["/fast"]]
        slow_requests, most_at_once = len(rx.arrivals["/slow"]), rx.slow_most_at_once

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
