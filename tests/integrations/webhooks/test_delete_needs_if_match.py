"""Deleting a webhook subscription (and with it its delivery log) needs If-Match like every other
versioned write of the API (docs/architecture.md "No silent overwrite"): 428 without, 412 stale.
It used to delete on a bare DELETE."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import WebhookDelivery, WebhookSubscription
from app.platform.db import utcnow

SUBS = "/api/v1/webhooks/subscriptions"


def test_delete_without_if_match_is_428_and_keeps_the_log(
    client: TestClient, db: Session, login: Any
) -> None:
    admin = login("admin")
    created = client.post(SUBS, json={"url": "https://h.example/hook"}, headers=admin)
    assert created.status_code == 201, created.text
    sub_id = created.json()["id"]
    url = created.headers["Location"]
    db.add(
        WebhookDelivery(
            subscription_id=sub_id,
            message_id="msg_test_delete_if_match",
            event="ticket.created",
            payload={"type": "ticket.created", "data": {}},
            status="dead",
            attempts=1,
            next_attempt_at=utcnow(),
        )
    )
    db.commit()

    refused = client.delete(url, headers=admin)
    assert refused.status_code == 428, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "If-Match" in refused.json()["detail"]
    db.expire_all()
    assert db.get(WebhookSubscription, sub_id) is not None
    assert db.scalars(select(WebhookDelivery.id).where(WebhookDelivery.subscription_id == sub_id)).all()

    assert client.delete(url, headers={**admin, "If-Match": '"v999"'}).status_code == 412
    etag = client.get(url, headers=admin).headers["ETag"]
    assert client.delete(url, headers={**admin, "If-Match": etag}).status_code == 204
    db.expire_all()
    assert db.get(WebhookSubscription, sub_id) is None
    assert client.get(url, headers=admin).status_code == 404


def test_delete_says_in_openapi_that_it_needs_if_match(client: TestClient) -> None:
    op = client.get("/openapi.json").json()["paths"][SUBS + "/{subscription_id}"]["delete"]
    assert "needs If-Match" in op["description"]
