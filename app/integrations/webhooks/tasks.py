"""Celery tasks for outbound webhooks: thin wrappers around app/integrations/webhooks/service.py.

`deliver` is enqueued after the commit that created (or redelivered, or resumed) a delivery: it
sends its subscription's due deliveries, oldest first, one at a time. `deliver_due` runs from beat
and sends whatever is due, one subscription per slot of a small thread pool, so a slow or hung
receiver holds up only its own deliveries. Every attempt claims its row first, so duplicates and
overlaps are harmless; the HTTP call runs between two short transactions, and all database work
stays on the task's own thread (the pool threads only POST).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from app.integrations.webhooks import service as webhooks
from app.models import DeliveryStatus
from app.platform.db import retry_while_unavailable, unit_of_work
from app.platform.worker import celery_app

log = logging.getLogger(__name__)
RECORD_RETRY_S = webhooks.LEASE_S * 0.75  # well inside the claim's lease
DUE_WORKERS = 4  # receivers posted to at once by one beat pass
PASS_BUDGET_S = 25.0  # no new attempt starts after this (beat runs every 30 s)


def _claim_next(subscription_id: int) -> webhooks.Claim | None:
    """Claim the subscription's oldest due delivery; None when there is none or one is in flight."""
    with unit_of_work() as session:
        delivery_id = webhooks.next_due(session, subscription_id)
        return None if delivery_id is None else webhooks.claim(session, delivery_id)


def _record(claimed: webhooks.Claim, outcome: webhooks.Outcome) -> str | None:
    def record() -> str | None:
        with unit_of_work() as session:
            return webhooks.record_outcome(session, claimed, outcome)

    # The receiver has the message now: losing the outcome to a database blip would send it again
    # once the lease ran out. Keep trying within the lease (recording is fenced by the attempt).
    return retry_while_unavailable(record, budget_s=RECORD_RETRY_S)


def _count(counts: dict[str, int], status: str | None) -> None:
    if status is not None:
        counts[status] = counts.get(status, 0) + 1


@celery_app.task(name="fieldline.webhooks.deliver")
def deliver(delivery_id: int) -> dict[str, int]:
    """Send the due deliveries of this delivery's subscription, oldest first, until one fails or
    the budget is spent; returns counts per resulting status (empty: nothing to do). A subscription
    whose receiver is failing is left to `deliver_due`, which tries it once per pass."""
    with unit_of_work() as session:
        subscription_id = webhooks.subscription_of(session, delivery_id)
        if subscription_id is None or webhooks.retrying(session, subscription_id):
            return {}
    counts: dict[str, int] = {}
    until = time.monotonic() + PASS_BUDGET_S
    while time.monotonic() < until:
        claimed = _claim_next(subscription_id)
        if claimed is None:
            break
        status = _record(claimed, webhooks.post(claimed))
        _count(counts, status)
        if status != DeliveryStatus.delivered:
            break
    return counts


@celery_app.task(name="fieldline.webhooks.deliver_due")
def deliver_due() -> dict[str, int]:
    """Send every delivery whose (re)try time has come (beat: every 30 s); dead-letter the ones left
    without attempts and expire the stale ones. Returns counts per resulting status.

    Up to DUE_WORKERS subscriptions are posted to at once, each one attempt at a time, oldest first;
    a subscription whose attempt fails gets no further attempt in this pass, so a hung receiver
    costs one TIMEOUT_S of one slot per pass and the other subscriptions keep theirs."""
    with unit_of_work() as session:
        buried = webhooks.bury_exhausted(session)
        expired = webhooks.expire_stale(session)
        waiting = deque(webhooks.due_subscriptions(session))
    counts = {k: v for k, v in (("dead", buried), ("expired", expired)) if v}
    if expired:
        log.warning("webhook deliveries expired unsent: %s", expired)
    until = time.monotonic() + PASS_BUDGET_S
    running: dict[Future[webhooks.Outcome], tuple[int, webhooks.Claim]] = {}
    with ThreadPoolExecutor(max_workers=DUE_WORKERS, thread_name_prefix="webhook-post") as pool:

        def fill() -> None:
            while waiting and len(running) < DUE_WORKERS and time.monotonic() < until:
                subscription_id = waiting.popleft()
                claimed = _claim_next(subscription_id)
                if claimed is not None:
                    running[pool.submit(webhooks.post, claimed)] = (subscription_id, claimed)

        fill()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                subscription_id, claimed = running.pop(future)
                try:
                    outcome = future.result()
                except Exception as exc:  # a bug, not the receiver: record it, keep the others'
                    log.exception("webhook delivery %s: post failed", claimed.delivery_id)
                    outcome = webhooks.Outcome(ok=False, status_code=None, error=f"internal: {exc!r}"[:500])
                status = _record(claimed, outcome)
                _count(counts, status)
                if status == DeliveryStatus.delivered:
                    waiting.append(subscription_id)  # its next one, after the others had a turn
            fill()
    if counts:
        log.info("webhook retries: %s", counts)
    return counts
