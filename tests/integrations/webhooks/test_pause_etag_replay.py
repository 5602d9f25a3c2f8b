"""A paused subscription keeps its events and sends them in order on resume (stale ones expire);
an ETag never matches another subscription that got a deleted one's id; a replayed create never
hands out a secret that was rotated away."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.integrations.webhooks.tasks import deliver_due
from app.models import WebhookDelivery, WebhookSubscription
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import Receiver, running_receiver

SUBS = "/api/v1/webhooks/subscriptions"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def _rows(db: Session, sub_id: int) -> list[WebhookDelivery]:
    db.expire_all()
    return list(
        db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub_id)
            .order_by(WebhookDelivery.id)
        )
    )


def test_events_wait_while_paused_and_go_out_in_order_on_resume(
    db: Session, client: TestClient, login, receiver: Receiver
) -> None:
    admin = login("admin")
    sub = f.make_webhook_subscription(db, receiver.url, active=False)
    db.commit()
    for n in range(3):
        assert emit(db, "ticket.created", {"ticket_id": n}) == 1
        db.commit()
    assert deliver_due() == {}
    assert receiver.requests == []
    assert [(d.status, d.attempts) for d in _rows(db, sub.id)] == [("pending", 0)] * 3

    url = f"{SUBS}/{sub.id}"
    etag = client.get(url, headers=admin).headers["ETag"]
    r = client.patch(url, json={"active": True}, headers={**admin, "If-Match": etag})
    assert r.status_code == 200, r.text
    # sent right after the resume's commit, oldest first, without waiting for beat
    assert [json.loads(x.body)["data"]["ticket_id"] for x in receiver.requests] == [0, 1, 2]
    assert [d.status for d in _rows(db, sub.id)] == ["delivered"] * 3


def test_events_older_than_the_cap_expire_instead_of_going_out(db: Session, receiver: Receiver) -> None:
    sub = f.make_webhook_subscription(db, receiver.url, active=False)
    db.commit()
    emit(db, "ticket.created", {"ticket_id": 1})
    emit(db, "ticket.created", {"ticket_id": 2})
    db.commit()
    old, fresh = _rows(db, sub.id)
    days = get_settings().webhook_expire_days
    db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == old.id)
        .values(created_at=utcnow() - timedelta(days=days, minutes=1))
    )
    sub.active = True
    db.commit()
    assert deliver_due() == {"expired": 1, "delivered": 1}
    old, fresh = _rows(db, sub.id)
    assert (old.status, old.attempts, old.last_error) == (
        "expired",
        0,
        f"not sent within {days} days of the event",
    )
    assert fresh.status == "delivered"
    assert [json.loads(x.body)["data"]["ticket_id"] for x in receiver.requests] == [2]


def test_an_etag_never_matches_a_later_subscription_with_the_same_id(
    client: TestClient, login, db: Session
) -> None:
    admin = login("admin")
    first = client.post(SUBS, json={"url": "https://h.example/a"}, headers=admin)
    gone_etag = first.headers["ETag"]
    assert (
        client.delete(first.headers["Location"], headers={**admin, "If-Match": gone_etag}).status_code == 204
    )
    second = client.post(SUBS, json={"url": "https://h.example/b"}, headers=admin)
    url = second.headers["Location"]
    # On SQLite the new one gets the deleted one's id (and version 1 again); the old ETag is stale.
    stale = client.patch(url, json={"active": False}, headers={**admin, "If-Match": gone_etag})
    assert stale.status_code == 412, stale.text
    assert (
        stale.json()["current_etag"]
        == second.headers["ETag"]
        == client.get(url, headers=admin).headers["ETag"]
    )
    ok = client.patch(url, json={"active": False}, headers={**admin, "If-Match": second.headers["ETag"]})
    assert ok.status_code == 200
    assert db.get(WebhookSubscription, second.json()["id"]).active is False  # type: ignore[union-attr]


def test_a_replayed_create_withholds_a_rotated_secret(client: TestClient, login) -> None:
    admin = login("admin")
    keyed = {**admin, "Idempotency-Key": "sub-rotated"}
    created = client.post(SUBS, json={"url": "https://h.example/r"}, headers=keyed)
    secret = created.json()["secret"]
    again = client.post(SUBS, json={"url": "https://h.example/r"}, headers=keyed)
    assert again.json()["secret"] == secret and again.json().get("secret_withheld") is None  # valid

    rotated = client.post(
        f"{created.headers['Location']}/rotate-secret", headers={**admin, "If-Match": created.headers["ETag"]}
    )
    assert rotated.status_code == 200, rotated.text
    replay = client.post(SUBS, json={"url": "https://h.example/r"}, headers=keyed)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert (replay.json()["secret"], replay.json().get("secret_withheld")) == (None, "rotated")
    assert secret not in replay.text and rotated.json()["secret"] not in replay.text
    assert replay.json()["id"] == created.json()["id"]

    etag = client.get(created.headers["Location"], headers=admin).headers["ETag"]
    client.delete(created.headers["Location"], headers={**admin, "If-Match": etag})
    gone = client.post(SUBS, json={"url": "https://h.example/r"}, headers=keyed)
    assert (gone.json()["secret"], gone.json().get("secret_withheld")) == (None, "deleted")
