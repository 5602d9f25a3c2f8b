"""The transactional outbox: a committed request never fails because the broker is down, and what
could not be published after the commit is sent by the drain once the broker is back."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import OutboxMessage, PlanRun, Ticket, WebhookDelivery
from app.platform import outbox
from app.platform.config import get_settings
from app.platform.worker import celery_app
from tests import factories as f
from tests.planning import world as pw


def _closed_port() -> int:
    """A local port nobody listens on: connecting is refused at once, like a stopped Redis."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _forget_connections() -> None:
    """Drop pooled broker connections (Celery's close() keeps the producer pool)."""
    celery_app.close()
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    url = f"redis://127.0.0.1:{_closed_port()}/4"
    monkeypatch.setattr(get_settings(), "celery_broker_url", url)
    monkeypatch.setattr(celery_app.conf, "broker_url", url)
    _forget_connections()  # an earlier test may have pooled connections to another broker
    outbox.breaker.reset()
    try:
        yield
    finally:
        _forget_connections()
        outbox.breaker.reset()


def _broker_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """No broker again: tasks run inline (as the test settings have it), as a worker would run them."""
    monkeypatch.setattr(get_settings(), "celery_broker_url", None)
    _forget_connections()


def _outbox(db: Session) -> list[tuple[str, dict[str, Any]]]:
    db.expire_all()
    return [(r.task, r.kwargs) for r in db.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def test_with_the_broker_down_a_ticket_and_a_plan_are_saved_and_sent_later(
    client: TestClient, db: Session, login: Any, broker_down: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, dispatcher = login("agent"), login("dispatcher")
    acc = f.make_account(db)
    contact = f.make_contact(db, acc)
    f.make_webhook_subscription(db, "http://127.0.0.1:9/hook", events=["ticket.created"])
    w = pw.build(db, jobs=1)
    db.commit()

    r = client.post(
        "/api/v1/tickets",
        json={
            "customer_id": acc.id,
            "contact_id": contact.id,
            "subject": "Broker down",
            "channel": "phone",
            "priority": "P3",
        },
        headers=agent,
    )
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]
    plan = client.post(
        "/api/v1/plans",
        json={"region_id": w.region.id, "date": pw.next_weekday(0).isoformat(), "time_limit_s": 2.0},
        headers=dispatcher,
    )
    assert plan.status_code == 202, plan.text
    run_id = plan.json()["id"]

    # Committed, and the tasks wait in the outbox.
    assert db.get(Ticket, ticket_id) is not None
    delivery = db.scalar(select(WebhookDelivery).where(WebhookDelivery.event == "ticket.created"))
    assert delivery is not None and delivery.attempts == 0
    waiting = _outbox(db)
    assert ("fieldline.webhooks.deliver", {"delivery_id": delivery.id}) in waiting
    assert ("fieldline.plan.region", {"run_id": run_id}) in waiting

    # Still down: the drain sends nothing, notes why, keeps every row.
    assert outbox.drain(older_than_s=0) == 0
    assert len(_outbox(db)) == len(waiting)
    assert db.scalar(select(func.max(OutboxMessage.attempts))) == 1

    _broker_back(monkeypatch)
    assert outbox.drain(older_than_s=0) == len(waiting)
    assert _outbox(db) == []
    db.expire_all()
    run = db.get(PlanRun, run_id)
    assert run is not None and run.status == "published" and run.attempts == 1
    sent = db.get(WebhookDelivery, delivery.id)
    assert sent is not None and sent.attempts == 1  # tried once (the receiver is down: retried later)


def test_a_successful_publish_leaves_nothing_in_the_outbox(
    client: TestClient, db: Session, login: Any
) -> None:
    dispatcher = login("dispatcher")
    w = pw.build(db, jobs=1)
    db.commit()
    r = client.post(
        "/api/v1/plans",
        json={"region_id": w.region.id, "date": pw.next_weekday(1).isoformat(), "time_limit_s": 2.0},
        headers=dispatcher,
    )
    assert r.status_code == 202
    assert _outbox(db) == []
    assert client.get(r.headers["Location"], headers=dispatcher).json()["status"] == "published"


def test_after_a_failed_publish_the_next_ones_do_not_wait_for_the_broker(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []

    def refuse(name: str, **kwargs: Any) -> None:
        tried.append(name)
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(outbox, "send", refuse)
    outbox.breaker.reset()
    try:
        for i in range(3):
            outbox.enqueue(db, "fieldline.maintenance.purge", n=i)
        db.commit()
        assert tried == ["fieldline.maintenance.purge"]  # one attempt, then the breaker holds
        assert [kw["n"] for _, kw in _outbox(db)] == [0, 1, 2]
    finally:
        outbox.breaker.reset()


def test_a_rolled_back_transaction_leaves_no_outbox_row(db: Session) -> None:
    outbox.enqueue(db, "fieldline.maintenance.purge")
    db.rollback()
    assert _outbox(db) == []


def test_the_drain_and_the_sweeper_run_periodically() -> None:
    """beat (and the embedded mode's in-process scheduler, which reads the same schedule) runs them."""
    celery_app.loader.import_default_modules()
    every = {e["task"]: float(e["schedule"]) for e in celery_app.conf.beat_schedule.values()}
    assert every["fieldline.outbox.drain"] <= 60 and every["fieldline.sweep.plan_runs"] <= 60
    assert {"fieldline.outbox.drain", "fieldline.sweep.plan_runs"} <= set(celery_app.tasks)


def test_the_visibility_timeout_outlasts_the_longest_plan_the_api_accepts() -> None:
    from app.planning.schemas import MAX_TIME_LIMIT_S

    timeout = celery_app.conf.broker_transport_options["visibility_timeout"]
    assert timeout == get_settings().celery_visibility_timeout_s
    assert timeout >= MAX_TIME_LIMIT_S + 120  # the solve plus load and publish, with room to spare
