"""Celery task of the knowledge base: persist the search index after article changes commit."""

from __future__ import annotations

from app.knowledge.index import PERSIST_TASK, process_cache
from app.platform.db import read_only_transactions, unit_of_work
from app.platform.worker import celery_app


@celery_app.task(name=PERSIST_TASK)
def persist_index() -> str | None:
    """Bring this worker's index up to the committed article set and write it for the other processes.

    Idempotent: a version already on disk is not written again; a later run supersedes an earlier one.
    It only reads the database, so on SQLite it reads the last commit instead of queueing for the
    write lock (a long import holds it for its whole, all-or-nothing transaction)."""
    with read_only_transactions(), unit_of_work() as session:
        path = process_cache().persist(session)
    return None if path is None else str(path)
