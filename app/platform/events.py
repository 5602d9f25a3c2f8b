"""Named domain events (ticket.created, workorder.scheduled, …) fanned out to webhook subscriptions.

`emit` writes one delivery row per matching subscription in the caller's transaction and
enqueues delivery after commit, so an event exists exactly when the change that caused it does.
A paused subscription gets its rows too: they wait, unsent, and go out in order on resume (or
expire after WEBHOOK_EXPIRE_DAYS).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import WebhookDelivery, WebhookSubscription
from app.platform.db import utcnow
from app.platform.outbox import enqueue

EVENTS = (
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.replied",
    "ticket.call_logged",
    "ticket.sla_breached",
    "workorder.created",
    "workorder.updated",
    "workorder.scheduled",
    "workorder.status_changed",
    "workorder.completed",
    "workorder.at_risk",
    "workorder.at_risk_cleared",
    "customer.imported",
    # CRM records written through the API (app/desk/customers/records.py; docs/customers.md)
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "contact.created",
    "contact.updated",
    "contact.deactivated",
    "contact.deleted",
    "site.created",
    "site.updated",
    "site.deleted",
    "asset.created",
    "asset.updated",
    "asset.deleted",
    "survey.detractor",
    "survey.recovery_closed",
)


def emit(session: Session, event: str, data: dict[str, Any]) -> int:
    """Queue `event` for every subscription that wants it, paused ones included (theirs wait for
    the resume); returns deliveries created."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    subs = session.scalars(select(WebhookSubscription)).all()
    payload = {"type": event, "timestamp": utcnow().isoformat(), "data": jsonable_encoder(data)}
    created = []
    for sub in subs:
        if sub.events and event not in sub.events:
            continue
        delivery = WebhookDelivery(
            message_id=f"msg_{uuid.uuid4().hex}", subscription_id=sub.id, event=event, payload=payload
        )
        session.add(delivery)
        created.append((delivery, sub.active))
    if created:
        session.flush()
        for d, active in created:
            if active:
                enqueue(session, "fieldline.webhooks.deliver", delivery_id=d.id)
    return len(created)
