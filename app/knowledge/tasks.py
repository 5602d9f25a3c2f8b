"""Celery task of the knowledge base: persist the search index after article changes commit."""

from __future__ import annotations

from app.knowledge.index import PERSIST_TASK, process_cache
from app.platform.db import unit_of_work
from app.platform.worker import celery_app


@celery_app.task(name=PERSIST_TASK)
def persist_index() -> str | None:
    """Bring this worker's index up to the committed article set and write it for the other processes.

    Idempotent: a version already on disk is not written again; a later run supersedes an earlier one."""
    with unit_of_work() as session:
        path = process_cache().persist(session)
    return None if path is None else str(path)
