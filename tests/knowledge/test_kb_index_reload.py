"""The index across processes: persisted after the commit, loaded by a process that starts later,
and caught up by a running process when the article-set version moves (a second cache instance stands
for another web or worker process). A rolled-back change never reaches any index."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, insert, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.knowledge import articles, search
from app.knowledge.index import IndexCache, mark_changed, read_version, set_process_cache
from app.knowledge.tasks import persist_index
from app.models import KbArticle, KbChange, KbIndexState, User
from app.platform.errors import Conflict
from tests import factories as f


def _ids(cache: IndexCache, db: Session, query: str) -> list[str]:
    return [h.article_id for h in cache.use(db, lambda index: index.search(query, 5))]


def _file(cache: IndexCache, version: int) -> Path:
    """The persisted index of ``version`` (its folder is ``v<version>-<stamp>``)."""
    folder = cache.folder()
    assert folder is not None
    (found,) = folder.glob(f"v{version}-*/index.zip")
    return found


def _write(db: Session, author: User, title: str, body: str, status: str = "published") -> KbArticle:
    article = articles.create_article(
        db, values={"title": title, "body": body, "status": status}, actor=author
    )
    db.commit()
    return article


def test_persisted_after_commit_and_loaded_by_a_new_process(
    db: Session, kb_cache: IndexCache, tmp_path: Path
) -> None:
    author = f.make_user(db, role="agent")
    first = _write(db, author, "Chiller trips on high pressure", "Clean the condenser strainer.")
    # the commit sent the persist task (eager in tests): the file for this version exists
    version = read_version(db)
    assert _file(kb_cache, version).is_file()

    other = IndexCache(kb_cache.directory, embeddings=False)  # a process started now
    assert _ids(other, db, "chiller high pressure") == [str(first.id)]
    assert other.loads_from_file == 1 and other.changes_applied == 0  # loaded, nothing re-analysed


def test_a_running_process_reloads_when_the_version_moves(db: Session, kb_cache: IndexCache) -> None:
    author = f.make_user(db, role="agent")
    lift = _write(db, author, "Lift door does not close", "Clean the light curtain.")
    other = IndexCache(kb_cache.directory, embeddings=False)
    assert _ids(other, db, "lift door") == [str(lift.id)]
    seen = other.version

    # this process changes the set: a new article, an edit, an unpublished one
    pump = _write(db, author, "Pump leaking at the seal", "Replace the mechanical seal.")
    articles.update_article(db, lift, values={"title": "Elevator door does not close"}, actor=author)
    db.commit()
    assert read_version(db) > seen

    assert _ids(other, db, "pump leaking seal") == [str(pump.id)]  # the other process caught up
    assert other.version == read_version(db)
    assert _ids(other, db, "elevator door") == [str(lift.id)]
    articles.update_article(db, pump, values={"status": "archived"}, actor=author)
    db.commit()
    assert _ids(other, db, "pump leaking seal") == []  # archived: gone from every process's search
    assert other.changes_applied == 3  # only the changed articles were read, never the whole set

    # a published article cannot be deleted (articles.why_kept); a row removed all the same (by an
    # operator, say) and logged leaves every process's search
    with pytest.raises(Conflict):
        articles.delete_article(db, lift, actor=author)
    db.rollback()
    assert _ids(other, db, "elevator door") == [str(lift.id)]
    db.execute(delete(KbArticle).where(KbArticle.id == lift.id))
    mark_changed(db, lift.id)
    db.commit()
    assert _ids(other, db, "elevator door") == []


def test_a_rolled_back_change_never_reaches_the_index(db: Session, kb_cache: IndexCache) -> None:
    author = f.make_user(db, role="agent")
    _write(db, author, "UPS battery fault", "Replace the battery modules.")
    before = read_version(db)
    files = sorted(p.name for p in kb_cache.folder().iterdir())  # type: ignore[union-attr]
    articles.create_article(
        db, values={"title": "Ghost article", "body": "never committed", "status": "published"}, actor=author
    )
    db.rollback()
    assert read_version(db) == before
    assert _ids(kb_cache, db, "ghost article never committed") == []
    assert sorted(p.name for p in kb_cache.folder().iterdir()) == files  # type: ignore[union-attr]


def test_files_of_a_timeline_a_restored_backup_undid_are_never_loaded(
    db: Session, kb_cache: IndexCache
) -> None:
    """A restore turns the article-set version back; the changes after it are numbered again. The
    files persisted before the restore carry the old change times in their names, so they no longer
    match and a process started after the restore builds from the database instead."""
    author = f.make_user(db, role="agent")
    _write(db, author, "Chiller trips on high pressure", "Clean the condenser strainer.")
    restored_at = read_version(db)
    undone = _write(db, author, "Boiler lockout F28", "Reset the burner after checking the gas supply.")
    undone_version = read_version(db)
    undone_file = _file(kb_cache, undone_version)

    # the restore: the database as it was at restored_at (web and workers stopped, so new processes)
    db.execute(delete(KbChange).where(KbChange.seq > restored_at))
    db.execute(delete(KbArticle).where(KbArticle.id == undone.id))
    db.execute(update(KbIndexState).where(KbIndexState.id == 1).values(version=restored_at))
    db.commit()
    set_process_cache(IndexCache(kb_cache.directory, embeddings=False))
    pump = _write(db, author, "Pump leaking at the seal", "Replace the mechanical seal.")
    assert read_version(db) == undone_version  # the same number, another article set

    started = IndexCache(kb_cache.directory, embeddings=False)
    assert _ids(started, db, "pump leaking seal") == [str(pump.id)]
    assert _ids(started, db, "boiler lockout") == []
    assert started.loads_from_file == 1  # the new timeline's file, written by the persist task
    assert not undone_file.exists()  # and the undone one was dropped when it was written


def test_a_process_without_files_builds_from_the_database(db: Session, tmp_path: Path) -> None:
    author = f.make_user(db, role="agent")
    set_process_cache(IndexCache(None, embeddings=False))  # no data directory: nothing persisted
    article = _write(db, author, "Generator does not start", "Charge the starter battery.")
    fresh = IndexCache(tmp_path / "empty", embeddings=False)
    assert _ids(fresh, db, "generator start battery") == [str(article.id)]
    assert fresh.loads_from_file == 0 and fresh.changes_applied == 1
    found = search.search(db, "generator battery")
    assert [x.article.id for x in found] == [article.id]


def test_a_torn_file_is_rebuilt_instead(db: Session, kb_cache: IndexCache) -> None:
    author = f.make_user(db, role="agent")
    article = _write(db, author, "Rack temperature alarm", "Check the room air conditioning.")
    version = read_version(db)
    _file(kb_cache, version).write_bytes(b"not a zip")
    other = IndexCache(kb_cache.directory, embeddings=False)
    assert _ids(other, db, "rack temperature") == [str(article.id)]
    assert other.loads_from_file == 0


def test_a_large_index_answers_at_once_while_a_fresh_one_is_prepared(
    db: Session, kb_cache: IndexCache
) -> None:
    """From sync_limit articles on, a request never waits for a rebuild: the previous index answers
    and a background thread swaps in an up-to-date one (from the persisted file, else a copy)."""
    author = f.make_user(db, role="agent")
    lift = _write(db, author, "Lift door does not close", "Clean the light curtain.")
    for directory in (kb_cache.directory, None):  # with the worker's file; without files (a copy)
        big = IndexCache(directory, embeddings=False, sync_limit=1)
        assert _ids(big, db, "lift door") == [str(lift.id)]  # the first build happens in the request
        before = big.use(db, lambda index: index)
        pump = _write(db, author, f"Pump leaking at the seal {directory is None}", "Replace the seal.")
        assert str(pump.id) not in _ids(big, db, "pump leaking seal")  # answered at once, a version behind
        big.wait_for_refresh()
        assert str(pump.id) in _ids(big, db, "pump leaking seal")
        assert big.refreshes == 1 and big.version == read_version(db)
        assert str(pump.id) not in before  # the index searches were using was never changed in place
        assert big.loads_from_file == (2 if directory else 0)


def test_the_persist_task_reads_past_a_writer_that_holds_the_lock(
    engine: Engine, committed_db: Session, kb_cache: IndexCache
) -> None:
    """A long import keeps its transaction open (nothing half-imported), and on SQLite that holds
    the write lock. The persist task only reads: it writes the committed set's file at once (it
    used to queue for the lock, and a 50 000-article import outlasted the 30 s busy timeout)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock")
    version = read_version(committed_db)
    committed_db.rollback()
    with engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE: the write lock until the end of the block
        writer.execute(text("UPDATE kb_index_state SET version = version + 1 WHERE id = 1"))
        path = persist_index()  # would raise "database is locked" after the busy timeout
        writer.rollback()
    assert path is not None and Path(path) == _file(kb_cache, version)


def test_a_large_index_is_kept_off_the_collector_and_the_one_it_replaces_is_freed(
    db: Session, kb_cache: IndexCache
) -> None:
    """A loaded or swapped-in large index is frozen out of full garbage collections (at 50 000 articles
    each walked it for up to 172 ms, stalling a request); freezing must not keep a replaced index alive."""
    import gc
    import weakref

    author = f.make_user(db, role="agent")
    _write(db, author, "Lift door does not close", "Clean the light curtain.")
    gc.unfreeze()
    try:
        big = IndexCache(None, embeddings=False, sync_limit=1)
        old = weakref.ref(big.use(db, lambda index: index))  # loaded in the request: settled
        assert gc.get_freeze_count() > 0
        _write(db, author, "Pump leaking at the seal", "Replace the seal.")
        big.use(db, lambda index: None)  # behind: a fresh index is prepared in the background
        big.wait_for_refresh()
        assert big.refreshes == 1
        gc.collect()
        assert old() is None  # the replaced index is gone, frozen or not
        small = IndexCache(None, embeddings=False)  # below sync_limit: the collector is left alone
        gc.unfreeze()
        small.use(db, lambda index: index)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_a_process_catches_up_on_a_backlog_larger_than_one_statement_takes(
    db: Session, kb_cache: IndexCache
) -> None:
    """70 000 changes since a process's last look (a big import, say): PostgreSQL takes at most
    65 535 bind parameters in one statement, so the changed articles are read in chunks."""
    author = f.make_user(db, role="agent")
    pump = _write(db, author, "Pump runs dry", "Check the float switch.")
    other = IndexCache(kb_cache.directory, embeddings=False)
    assert _ids(other, db, "pump float switch") == [str(pump.id)]
    version = read_version(db)
    changed = 70_000
    # One real article among ids that no longer exist (deleted articles leave their ids in the log).
    rows = [{"seq": version + 1, "article_id": pump.id}]
    rows += [{"seq": version + 1 + n, "article_id": 10_000_000 + n} for n in range(1, changed)]
    db.execute(insert(KbChange), rows)
    db.execute(update(KbIndexState).where(KbIndexState.id == 1).values(version=version + changed))
    db.execute(update(KbArticle).where(KbArticle.id == pump.id).values(title="Pump runs dry and hums"))
    db.commit()
    assert _ids(other, db, "hums") == [str(pump.id)]
    assert other.version == version + changed
