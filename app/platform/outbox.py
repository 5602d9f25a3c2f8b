"""Transactional outbox: a task is a row in the transaction that makes it due, published after commit.

`enqueue` adds an `OutboxMessage` to the caller's transaction. Once the transaction commits the
task is published (one attempt with a short timeout) and the row deleted; if the broker is down
the row stays and the request still answers normally — its work is committed, only the hand-over
to a worker waits. `drain` (beat `fieldline.outbox.drain`, and the in-process scheduler in the
embedded mode) re-sends rows older than `DRAIN_AGE_S`. Every task is idempotent (it claims its
row or checks its state first), so a message sent twice — the drain racing a slow publish, a
commit lost after a send — is harmless; a message never sent is what this module prevents.

After a failed publish the process stops trying for `BROKER_BACKOFF_S`: a request that would
enqueue several tasks pays for at most one timeout, and the drain sends them once the broker is
back.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.models import OutboxMessage
from app.platform.db import after_commit, unit_of_work, utcnow
from app.platform.worker import send

log = logging.getLogger(__name__)

DRAIN_AGE_S = 10.0  # younger rows may still be being published by the request that wrote them
DRAIN_BATCH = 500
BROKER_BACKOFF_S = 5.0
_ERROR_LEN = 500


class _Breaker:
    """Remembers a failed publish for a few seconds, so later ones do not wait for the same timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until = 0.0

    def allows(self) -> bool:
        with self._lock:
            return time.monotonic() >= self._open_until

    def trip(self) -> None:
        with self._lock:
            self._open_until = time.monotonic() + BROKER_BACKOFF_S

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0


breaker = _Breaker()


def enqueue(session: Session, name: str, **kwargs: Any) -> None:
    """Send task `name` once the session's transaction has committed, never before — and, should
    the publish fail, later from the outbox. Never raises after the commit."""
    row = OutboxMessage(task=name, kwargs=kwargs)
    session.add(row)
    after_commit(session, lambda: _publish_committed(row))


def _publish_committed(row: OutboxMessage) -> None:
    if not breaker.allows():
        return  # the broker failed a moment ago: the drain sends it
    try:
        send(row.task, **row.kwargs)
    except Exception as exc:  # the commit stands; the drain re-sends the row
        breaker.trip()
        log.warning("outbox: task %s (row %s) not published, left for the drain: %r", row.task, row.id, exc)
        return
    try:
        with unit_of_work() as session:
            session.execute(delete(OutboxMessage).where(OutboxMessage.id == row.id))
    except Exception:  # the task went out; the drain will send it once more (tasks are idempotent)
        log.warning("outbox: row %s sent but not deleted", row.id, exc_info=True)


def drain(*, older_than_s: float = DRAIN_AGE_S, limit: int = DRAIN_BATCH) -> int:
    """Publish outbox rows left by a failed or interrupted publish; returns how many went out.

    Rows are locked (`SKIP LOCKED` on PostgreSQL) so two drains never send the same row; the first
    failure stops the batch (the broker is still down) and is recorded on the row."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    sent = 0
    with unit_of_work() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.created_at <= cutoff)
            .order_by(OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if rows:
            breaker.reset()  # the drain is the probe: it tries, and trips the breaker again on failure
        for row in rows:
            try:
                send(row.task, **row.kwargs)
            except Exception as exc:
                breaker.trip()
                row.attempts += 1
                row.last_error = repr(exc)[:_ERROR_LEN]
                log.warning("outbox drain: broker still unavailable (%d sent before): %r", sent, exc)
                break
            session.delete(row)
            sent += 1
    if sent:
        log.info("outbox drain: %d task(s) sent", sent)
    return sent


def pending(session: Session) -> int:
    """Rows not yet handed to the broker (health, audits)."""
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)
