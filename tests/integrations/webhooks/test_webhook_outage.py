"""A database blip between sending a webhook and recording it does not send it twice: the outcome
is recorded once the database answers again (within the claim's lease)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.integrations.webhooks import service as webhooks
from app.integrations.webhooks import tasks
from app.models import WebhookDelivery
from app.platform.events import emit
from tests import factories as f
from tests.integrations.webhooks.receiver import Receiver, running_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


def test_the_outcome_is_recorded_after_a_short_outage_and_nothing_is_sent_twice(
    db: Session, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    f.make_webhook_subscription(db, receiver.url, events=["ticket.created"])
    real_record = webhooks.record_outcome
    failures = {"left": 2}

    def flaky_record(*args: Any, **kwargs: Any) -> str | None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("UPDATE webhook_delivery", {}, ConnectionResetError("server closed"))
        return real_record(*args, **kwargs)

    monkeypatch.setattr(webhooks, "record_outcome", flaky_record)
    emit(db, "ticket.created", {"ticket_id": 7})
    db.commit()  # the eager delivery task runs here: sends, fails to record twice, then records
    delivery = db.scalar(select(WebhookDelivery).order_by(WebhookDelivery.id.desc()))
    assert delivery is not None
    db.refresh(delivery)
    assert failures["left"] == 0
    assert delivery.status == "delivered" and delivery.attempts == 1
    assert len(receiver.requests) == 1
    # A later sweep finds nothing due: the message is not sent again.
    assert tasks.deliver_due() == {}
    assert len(receiver.requests) == 1
