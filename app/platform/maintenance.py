"""Celery tasks: thin wrappers that open a unit of work and call service functions."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app.models import IdempotencyRecord
from app.platform import outbox
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.worker import celery_app


@celery_app.task(name="fieldline.maintenance.purge")
def purge_expired() -> int:
    cutoff = utcnow() - timedelta(hours=get_settings().idempotency_ttl_h)
    with unit_of_work() as session:
        result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@celery_app.task(name="fieldline.outbox.drain")
def drain_outbox() -> int:
    """Beat (every 15 s): send the tasks whose publish after commit failed (broker was down)."""
    return outbox.drain()
