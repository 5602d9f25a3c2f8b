"""Celery tasks of the ticket desk: thin wrappers around app/desk/sla/status.py."""

from __future__ import annotations

import logging

from app.desk.sla import status as sla_status
from app.platform.db import unit_of_work
from app.platform.worker import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="fieldline.sla.check_breaches")
def check_breaches() -> int:
    """Mark SLA targets that ran out (beat: every minute). Idempotent: a metric is marked once."""
    with unit_of_work() as session:
        found = sla_status.check_breaches(session)
    if found:
        log.info("SLA breaches marked: %s", found)
    return len(found)
