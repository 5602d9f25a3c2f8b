"""The knowledge index with a real Celery worker: an article committed here is indexed and persisted
by the worker process (after the commit), and a process started afterwards loads that file instead of
re-analysing the articles. Runs with CELERY_BROKER_URL and a PostgreSQL TEST_DATABASE_URL (conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.knowledge.index import IndexCache, read_state
from app.models import KbChange
from app.platform.config import get_settings
from tests import factories as f

pytestmark = [pytest.mark.worker, pytest.mark.usefixtures("celery_worker", "via_broker", "cleanup")]


@pytest.fixture
def kb_changes(committed_db: Session) -> Iterator[None]:
    """kb_change is keyed by version, not id: the shared cleanup leaves it; remove what we add."""
    start = read_state(committed_db)[0]
    committed_db.rollback()
    yield
    committed_db.execute(delete(KbChange).where(KbChange.seq > start))
    committed_db.commit()


def test_the_worker_persists_the_index_a_new_process_loads(
    committed_db: Session, kb_changes: None, worker_log_tail: Callable[[], str]
) -> None:
    db = committed_db
    author = f.make_user(db, role="agent")
    article = articles.create_article(
        db,
        values={
            "title": "Chiller trips on high pressure",
            "body": "Clean the strainer.",
            "status": "published",
        },
        actor=author,
    )
    db.commit()  # the persist task goes to Redis now; the worker process writes the file
    version, token = read_state(db)
    db.rollback()
    folder = Path(get_settings().kb_index_dir) / token
    deadline = time.monotonic() + 60
    while not list(folder.glob(f"v{version}-*/index.zip")):
        assert time.monotonic() < deadline, f"the worker wrote no index file:\n{worker_log_tail()}"
        time.sleep(0.2)

    fresh = IndexCache(get_settings().kb_index_dir, embeddings=False)  # a web process starting now
    hits = fresh.use(db, lambda index: index.search("chiller high pressure", 3))
    assert [h.article_id for h in hits] == [str(article.id)]
    assert fresh.loads_from_file == 1 and fresh.changes_applied == 0
    db.rollback()
