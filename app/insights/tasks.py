"""Celery task of the insights domain: keep the per-day KPI aggregates current (beat: every 5 min)."""

from __future__ import annotations

import logging

from app.insights import aggregates
from app.platform.db import unit_of_work
from app.platform.worker import celery_app

log = logging.getLogger(__name__)


@celery_app.task(name="fieldline.insights.refresh_kpis")
def refresh_kpis() -> int:
    """Rebuild the touched and the still-moving days of kpi_day; the first run builds 400 days."""
    with unit_of_work() as session:
        written = aggregates.refresh(session)
    log.info("KPI aggregates refreshed: %s rows", written)
    return written
