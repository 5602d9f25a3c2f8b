"""Celery tasks of the surveys: thin wrappers around app/feedback/sending.py and recovery.py."""

from __future__ import annotations

import logging

from app.feedback import recovery, sending
from app.platform.db import unit_of_work
from app.platform.worker import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="fieldline.surveys.send_due")
def send_due() -> dict[str, int]:
    """Send, remind, skip or cancel the surveys that are due (beat: every minute)."""
    done = sending.send_due()
    if done:
        log.info("surveys: %s", done)
    return done


@celery_app.task(name="fieldline.surveys.open_recovery")
def open_recovery(answer_id: int) -> int | None:
    """Open the recovery ticket for a detractor's answer (enqueued after the answer commits)."""
    with unit_of_work() as session:
        rec = recovery.open_recovery(session, answer_id)
        return rec.ticket_id if rec else None
