"""Tasks through a real broker to a real `celery -A app.worker worker` process.

Skipped unless CELERY_BROKER_URL (a dedicated Redis db) and a PostgreSQL TEST_DATABASE_URL are
set, e.g.:
    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/fieldline_test \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/pytest tests/worker
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.integrations.webhooks.signing import verify_signature
from app.models import SlaTarget, Ticket, WebhookDelivery
from app.platform.db import utcnow
from app.platform.events import emit
from app.platform.worker import celery_app
from tests import factories as f
from tests.integrations.webhooks.receiver import Receiver, running_receiver

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker", "via_broker", "cleanup")]

EFFECT_TIMEOUT_S = 60.0
T = TypeVar("T")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def wait_until(probe: Callable[[], T | None], what: str, log: Callable[[], str]) -> T:
    """Poll until `probe` returns something truthy; fail (with the worker's log) after a bound."""
    deadline = time.monotonic() + EFFECT_TIMEOUT_S
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out after {EFFECT_TIMEOUT_S:.0f} s waiting for {what}; worker log:\n{log()}")


def _delivery(db: Session, delivery_id: int, status: str) -> WebhookDelivery | None:
    db.expire_all()
    d = db.get(WebhookDelivery, delivery_id)
    db.rollback()  # end the read transaction so the next poll sees the worker's commits
    return d if d is not None and d.status == status else None


def _deliveries_of(db: Session, subscription_id: int) -> list[WebhookDelivery]:
    rows = list(
        db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.id)
        )
    )
    db.rollback()
    return rows


def test_worker_delivers_an_emitted_event_once(
    committed_db: Session, receiver: Receiver, worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    sub = f.make_webhook_subscription(db, receiver.url, events=["workorder.scheduled"])
    db.commit()
    assert emit(db, "workorder.scheduled", {"work_order_id": 41}) == 1
    db.commit()  # the task goes to Redis after this commit; the worker process sends it
    [first] = _deliveries_of(db, sub.id)
    done = wait_until(lambda: _delivery(db, first.id, "delivered"), "the delivery", worker_log_tail)
    assert done.attempts == 1 and done.last_status_code == 200
    [req] = receiver.requests
    assert verify_signature(sub.secret, req.headers, req.body)
    assert req.headers["webhook-id"] == first.message_id
    assert json.loads(req.body)["data"] == {"work_order_id": 41}

    # A duplicate task and a beat run for the delivered row, then a marker event behind them in
    # the same queue: the single worker takes tasks in order, so once the marker is out the
    # duplicates have run. (deliver_due may send the marker itself, as it is due at once; the
    # marker's own task then finds nothing to claim. Either way each row goes out once.)
    celery_app.send_task("fieldline.webhooks.deliver", kwargs={"delivery_id": first.id})
    celery_app.send_task("fieldline.webhooks.deliver_due")
    emit(db, "workorder.scheduled", {"work_order_id": 42})
    db.commit()
    marker = _deliveries_of(db, sub.id)[-1]
    wait_until(lambda: _delivery(db, marker.id, "delivered"), "the marker delivery", worker_log_tail)
    assert [json.loads(r.body)["data"]["work_order_id"] for r in receiver.requests] == [41, 42]


def test_worker_retries_a_failed_delivery_from_the_beat_task(
    committed_db: Session, receiver: Receiver, worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    sub = f.make_webhook_subscription(db, receiver.url)
    db.commit()
    receiver.respond(500)
    emit(db, "ticket.updated", {"ticket_id": 5})
    db.commit()
    [d] = _deliveries_of(db, sub.id)

    def failed_once() -> WebhookDelivery | None:
        got = _delivery(db, d.id, "pending")
        return got if got is not None and got.last_status_code == 500 else None

    wait_until(failed_once, "the first (failing) attempt", worker_log_tail)
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == d.id)
        .values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()  # its backoff has passed
    celery_app.send_task("fieldline.webhooks.deliver_due")  # what beat sends every 30 s
    done = wait_until(lambda: _delivery(db, d.id, "delivered"), "the retry", worker_log_tail)
    assert done.attempts == 2
    assert len(receiver.requests) == 2
    assert {r.headers["webhook-id"] for r in receiver.requests} == {d.message_id}


def test_worker_marks_sla_breach_and_delivers_its_event(
    committed_db: Session, receiver: Receiver, worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    db.add(
        SlaTarget(
            tier="worker-test", priority="P2", first_response_min=30, arrival_min=120, resolution_min=600
        )
    )
    cal = f.make_calendar(db, always_open=True)
    account = f.make_account(db)
    contract = f.make_contract(db, account, cal, tier="worker-test")
    asset = f.make_asset(db, f.make_site(db, account), contract=contract)
    sub = f.make_webhook_subscription(db, receiver.url, events=["ticket.sla_breached"])
    ticket = tickets.create_ticket(
        db,
        account_id=account.id,
        asset_id=asset.id,
        subject="Chiller alarm",
        priority="P2",
        channel="phone",
        actor=f.make_user(db),
        opened_at=utcnow() - timedelta(hours=3),
    )
    db.commit()
    assert not ticket.sla_breached

    celery_app.send_task("fieldline.sla.check_breaches")  # what beat sends every minute

    def breached() -> Ticket | None:
        db.expire_all()
        t = db.get(Ticket, ticket.id)
        db.rollback()
        return t if t is not None and t.sla_breached else None

    wait_until(breached, "the SLA breach", worker_log_tail)
    [d] = _deliveries_of(db, sub.id)
    assert d.event == "ticket.sla_breached"
    wait_until(lambda: _delivery(db, d.id, "delivered"), "the breach webhook", worker_log_tail)
    [req] = receiver.requests
    assert verify_signature(sub.secret, req.headers, req.body)
    body = json.loads(req.body)
    assert body["type"] == "ticket.sla_breached"
    assert body["data"]["ticket_id"] == ticket.id and body["data"]["metric"] == "first_response"
