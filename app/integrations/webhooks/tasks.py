"""Celery tasks for outbound webhooks: thin wrappers around app/integrations/webhooks/service.py.

`deliver` is enqueued after the commit that created (or redelivered) a delivery; `deliver_due`
runs from beat and sends retries whose backoff has passed. Both claim each row first, so
duplicates and overlaps are harmless. The HTTP call runs between two short transactions.
"""

from __future__ import annotations

import logging

import httpx

from app.integrations.webhooks import service as webhooks
from app.platform.db import retry_while_unavailable, unit_of_work
from app.platform.worker import celery_app

log = logging.getLogger(__name__)
RECORD_RETRY_S = webhooks.LEASE_S * 0.75  # well inside the claim's lease


def _attempt(delivery_id: int, client: httpx.Client | None = None) -> str | None:
    with unit_of_work() as session:
        claimed = webhooks.claim(session, delivery_id)
    if claimed is None:
        return None
    outcome = webhooks.post(claimed, client=client)

    def record() -> str | None:
        with unit_of_work() as session:
            return webhooks.record_outcome(session, claimed, outcome)

    # The receiver has the message now: losing the outcome to a database blip would send it again
    # once the lease ran out. Keep trying within the lease (recording is fenced by the attempt).
    return retry_while_unavailable(record, budget_s=RECORD_RETRY_S)


@celery_app.task(name="fieldline.webhooks.deliver")
def deliver(delivery_id: int) -> str | None:
    """One attempt for one delivery; None when there was nothing to do (not due, done, taken)."""
    return _attempt(delivery_id)


@celery_app.task(name="fieldline.webhooks.deliver_due")
def deliver_due() -> dict[str, int]:
    """Send every delivery whose retry time has come (beat: every 30 s); dead-letter the ones
    left without attempts. Returns counts per resulting status."""
    with unit_of_work() as session:
        buried = webhooks.bury_exhausted(session)
        ids = webhooks.due_ids(session)
    counts: dict[str, int] = {"dead": buried} if buried else {}
    if ids:
        with httpx.Client(timeout=webhooks.TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
            for delivery_id in ids:
                status = _attempt(delivery_id, client)
                if status is not None:
                    counts[status] = counts.get(status, 0) + 1
    if counts:
        log.info("webhook retries: %s", counts)
    return counts
