"""The search index in the product: one per process, persisted under the data directory, kept current.

- Every article change bumps the article-set version (``kb_index_state``, one row) and logs the
  article's id at that version (``kb_change``), in the same transaction as the change.
- Each process keeps an :class:`IndexCache`: before a search it reads the version (one primary-key
  read). Behind? It loads the newest persisted file not newer than the version (at start), then applies
  the logged changes after its own version: only those articles are read, analysed and embedded.
- After the commit, a task (``fieldline.kb.persist_index``) brings the worker's cache up to date and
  writes ``v<version>-<stamp>/index.zip`` atomically, so a process that starts later loads instead of
  building. A rolled-back change never reaches the index: the task is only sent after the commit.
- The stamp is when the version's ``kb_change`` row was written. A database restored from a backup
  turns the version back and numbers the next changes again; their rows carry new times, so a file of
  the timeline the restore undid no longer matches its version's row and is never loaded.

Published articles only are indexed; drafts and archived articles are not found by search.
"""

from __future__ import annotations

import gc
import logging
import math
import re
import shutil
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.knowledge.markdown import plain_text
from app.models import ArticleStatus, KbArticle, KbChange, KbIndexState
from app.platform.config import get_settings
from app.platform.db import unit_of_work
from app.platform.outbox import enqueue
from knowledge_base import Article, KnowledgeIndex
from knowledge_base.embedding import Encoder
from knowledge_base.vector_cache import VectorCache

log = logging.getLogger(__name__)
T = TypeVar("T")
# Proven boost: 0.2 x ln(1 + times "This solved it" was chosen, less half the "not helpful" votes),
# capped at 0.6. A chosen shape (diminishing returns, a few votes matter), not fitted to data.
BOOST_PER_LOG_SOLVED = 0.2
BOOST_MAX = 0.6
PERSIST_TASK = "fieldline.kb.persist_index"
# Below this many articles a process updates its index inside the request; above, in the background.
# Measured (upsert + BM25 rebuild + one search, generated articles, load ~7 on 2 cores): 65 ms at 1 000,
# ~100 ms at 2 000, ~350 ms at 5 000 articles (docs/knowledge_base.md).
SYNC_LIMIT = 1000
# A large index that is behind applies the pending changes in place, without a background rebuild, when
# they are at most this many articles and none changed its text (votes: only the proven boost moved).
BOOST_ONLY_LIMIT = 50
# Changed articles read per query while catching up: an IN list is one bind parameter per id, and
# PostgreSQL refuses a statement with more than 65 535 (an import of 70 000 articles is one backlog).
READ_CHUNK = 10_000


def boost_for(solved: int, not_helpful: int) -> float:
    net = max(0.0, solved - not_helpful / 2)
    return min(BOOST_MAX, BOOST_PER_LOG_SOLVED * math.log1p(net))


def to_index_article(row: KbArticle) -> Article:
    """What the ranker sees: symptom and resolution steps are searchable text like the body."""
    parts = (row.symptom, plain_text(row.body), "\n".join(row.resolution_steps))
    body = "\n".join(part for part in parts if part)
    return Article(
        id=str(row.id),
        title=row.title,
        body=body,
        tags=tuple(row.tags),
        language=row.language,
        product_models=tuple(row.product_models),
        fault_codes=tuple(row.fault_codes),
        boost_factor=boost_for(row.solved_count, row.not_helpful_count),
    )


def read_state(session: Session) -> tuple[int, str]:
    """(article-set version, database token): one primary-key read."""
    row = session.execute(
        select(KbIndexState.version, KbIndexState.database_token).where(KbIndexState.id == 1)
    ).first()
    return (0, "") if row is None else (int(row[0]), str(row[1]))


def read_version(session: Session) -> int:
    return read_state(session)[0]


_FILE_NAME = re.compile(r"v(\d+)(?:-(\d+))?")


def stamp(session: Session, version: int) -> str | None:
    """When ``version``'s change was logged, as digits (``"0"`` for the empty set; None: not logged)."""
    if version <= 0:
        return "0"
    at = session.scalar(select(KbChange.at).where(KbChange.seq == version))
    if at is None:
        return None
    return at.strftime("%Y%m%d%H%M%S%f")  # the column type hands back UTC on every backend


def _file_name(version: int, version_stamp: str) -> str:
    return f"v{version}-{version_stamp}"


def mark_changed(session: Session, article_id: int) -> int:
    """Bump the article-set version and log the article at it; persist the index after the commit."""
    bumped = session.execute(
        update(KbIndexState).where(KbIndexState.id == 1).values(version=KbIndexState.version + 1)
    )
    if getattr(bumped, "rowcount", 0) == 0:  # a schema made without the migration's row
        session.add(KbIndexState(id=1, version=1))
        session.flush()
    version = read_version(session)
    session.add(KbChange(seq=version, article_id=article_id))
    session.flush()
    transaction = session.get_transaction()
    if session.info.get("kb_persist_for") is not transaction:  # one task per transaction, not per article
        session.info["kb_persist_for"] = transaction
        enqueue(session, PERSIST_TASK)
    return version


def _published(rows: Iterable[KbArticle]) -> list[KbArticle]:
    return [r for r in rows if r.status == ArticleStatus.published.value]


def _changed_ids(session: Session, *, since: int, upto: int) -> set[int]:
    return set(session.scalars(select(KbChange.article_id).where(KbChange.seq > since, KbChange.seq <= upto)))


def _boost_only(index: KnowledgeIndex, session: Session, *, since: int, upto: int) -> list[Article] | None:
    """The changed articles when every change after ``since`` left an indexed article's text as it is
    (a vote), else None (the caller rebuilds)."""
    logged = session.scalars(
        select(KbChange.article_id)
        .where(KbChange.seq > since, KbChange.seq <= upto)
        .limit(BOOST_ONLY_LIMIT + 1)  # a request never reads a long backlog: that is the refresh's job
    ).all()
    ids = set(logged)
    if not ids or len(logged) > BOOST_ONLY_LIMIT:
        return None
    rows = _published(session.scalars(select(KbArticle).where(KbArticle.id.in_(ids))))
    if len(rows) != len(ids):  # one was unpublished or deleted
        return None
    articles = [to_index_article(r) for r in rows]
    for article in articles:
        old = index.get(article.id)
        if old is None or (old.full_text, old.field_text) != (article.full_text, article.field_text):
            return None
    return articles


def _read_changes(session: Session, *, since: int, upto: int) -> tuple[list[Article], set[str], int]:
    """The articles to upsert and the ids to remove for the changes logged after ``since`` up to
    ``upto`` (all published articles from 0), and how many articles were read."""
    if since <= 0:
        stmt = select(KbArticle).where(KbArticle.status == ArticleStatus.published.value)
        everything = [to_index_article(r) for r in session.scalars(stmt.order_by(KbArticle.id))]
        return everything, set(), len(everything)
    ids = _changed_ids(session, since=since, upto=upto)
    ordered = sorted(ids)
    found: list[KbArticle] = []
    for start in range(0, len(ordered), READ_CHUNK):
        chunk = ordered[start : start + READ_CHUNK]
        found.extend(session.scalars(select(KbArticle).where(KbArticle.id.in_(chunk))))
    live = _published(found)
    return [to_index_article(r) for r in live], {str(i) for i in ids - {r.id for r in live}}, len(ids)


def _apply(index: KnowledgeIndex, session: Session, *, since: int, upto: int, release: bool = False) -> int:
    """Apply the changes logged after ``since`` up to ``upto``; returns how many articles were read.

    ``release``: end the session's (read-only) transaction once the articles are read, before they
    are embedded — a first build with the encoder takes minutes to hours, and on SQLite an open
    transaction holds the database's write lock (every other writer would time out)."""
    upserts, removed, read = _read_changes(session, since=since, upto=upto)
    if release:
        session.commit()
    index.upsert_many(upserts)
    for gone in removed:
        index.remove(gone)
    return read


class IndexCache:
    """A process's index and the article-set version it reflects.

    Everything that touches the shared index object (searches, in-place updates, copying it) holds one
    lock: the library's index is not safe to change while another thread searches it. A small index
    is brought up to date in the request (cheap); from ``sync_limit`` articles on, a stale index keeps
    answering while a background thread prepares an up-to-date copy — from the worker's persisted file,
    else from a copy of this one — and swaps it in, so no request waits for a rebuild (seconds at
    50 000 articles). Results are then at most one refresh behind the committed set.
    """

    def __init__(
        self,
        directory: str | Path | None,
        *,
        embeddings: bool = True,
        sync_limit: int = SYNC_LIMIT,
        encoder: Encoder | None = None,
        vector_cache: str | Path | None = None,
    ) -> None:
        """``encoder``: another sentence encoder than the library's (tests); only used with embeddings.
        ``vector_cache``: the vector cache file (default ``<directory>/vectors.sqlite3``)."""
        self.directory = Path(directory) if directory else None
        self._embeddings = embeddings
        self._encoder = encoder
        self.sync_limit = sync_limit
        self._lock = threading.RLock()
        self._index: KnowledgeIndex | None = None
        self._refresher: threading.Thread | None = None
        self.version = -1
        self.token = ""  # the database this index belongs to (KbIndexState.database_token)
        self.loads_from_file = 0
        self.changes_applied = 0
        self.refreshes = 0  # background swaps
        self.boost_updates = 0  # large-index catch-ups that only patched boosts in place
        # Article vectors by text, shared by every process and index version: a rebuild (a new process
        # without a usable file, a torn file, a recreated database) embeds only texts never seen before.
        vectors_at = vector_cache or (self.directory / "vectors.sqlite3" if self.directory else None)
        self._vectors = VectorCache(vectors_at) if vectors_at is not None and embeddings else None

    def _new_index(self) -> KnowledgeIndex:
        return KnowledgeIndex(encoder=self._choice(), vector_cache=self._vectors)

    def use(self, session: Session, fn: Callable[[KnowledgeIndex], T]) -> T:
        """Run ``fn`` on the index: current, or (large and behind) the previous one while a fresh one is
        prepared in the background."""
        version, token = read_state(session)
        with self._lock:
            if token != self.token:  # another database (recreated, or a test's): start over
                self._index, self.version, self.token = None, -1, token
            index = self._index
            if index is None or (self.version != version and len(index) < self.sync_limit):
                index = self._catch_up(session, version, token)
            elif self.version != version:
                refreshing = self._refresher is not None and self._refresher.is_alive()
                boosts = None if refreshing else _boost_only(index, session, since=self.version, upto=version)
                if boosts is not None:  # votes: patch the boosts in place, no rebuild
                    index.upsert_many(boosts)
                    self.version = version
                    self.changes_applied += len(boosts)
                    self.boost_updates += 1
                else:
                    self._start_refresh()
            return fn(index)

    def _catch_up(
        self, session: Session, version: int, token: str, *, release: bool = False
    ) -> KnowledgeIndex:
        """Bring the shared index up to ``version`` in place (callers hold the lock); ``release``: see
        :func:`_apply`."""
        if token != self.token:
            self._index, self.version, self.token = None, -1, token
        if self._index is not None and self.version == version:
            return self._index
        loaded = self._index is None
        if self._index is None:
            self._index, self.version = self._load(session, version)
        if self.version != version:
            applied = _apply(self._index, session, since=self.version, upto=version, release=release)
            self.changes_applied += applied
            self.version = version
        if loaded:
            _settle(self._index, self.sync_limit)
        return self._index

    def _start_refresh(self) -> None:
        if self._refresher is not None and self._refresher.is_alive():
            return
        self._refresher = threading.Thread(target=self._refresh, name="kb-index-refresh", daemon=True)
        self._refresher.start()

    def wait_for_refresh(self, timeout_s: float = 60.0) -> None:
        """Block until a running background refresh has swapped its index in (tests, benchmarks)."""
        refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout_s)

    def _refresh(self) -> None:
        try:
            with unit_of_work() as session:  # reads only
                version, token = read_state(session)
                fresh, at = self._load(session, version)
                with self._lock:
                    if token != self.token or self._index is None:
                        return
                    if at < self.version:  # no usable newer file: copy ours (under the lock: a read)
                        fresh, at = (
                            KnowledgeIndex.from_bytes(
                                self._index.to_bytes(), encoder=self._choice(), vector_cache=self._vectors
                            ),
                            self.version,
                        )
                applied = _apply(fresh, session, since=at, upto=version, release=True) if at != version else 0
                fresh.rebuild()
            with self._lock:
                if token == self.token and version > self.version:
                    self._index, self.version = fresh, version
                    self.changes_applied += applied
                    self.refreshes += 1
            _settle(fresh, self.sync_limit)
        except Exception:  # a failed refresh leaves the previous index answering; the next request retries
            log.exception("knowledge index refresh failed")

    def _choice(self) -> Encoder | Literal["auto"] | None:
        if not self._embeddings:
            return None
        return self._encoder or "auto"

    def _load(self, session: Session, version: int) -> tuple[KnowledgeIndex, int]:
        """The newest persisted index not newer than ``version`` whose stamp is the database's for its
        version, else an empty one at version 0."""
        for found, found_stamp, path in self._files():
            if found > version:
                continue
            if found_stamp is None or found_stamp != stamp(session, found):
                # an unstamped file, or one of a timeline a restored backup undid: never trusted
                log.info("knowledge index %s is not this database's version %d; skipped", path, found)
                continue
            try:
                index = KnowledgeIndex.load(path, encoder=self._choice(), vector_cache=self._vectors)
            except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # torn or old: rebuild
                log.warning("knowledge index %s not loaded (%s); rebuilding", path, exc)
                break
            self.loads_from_file += 1
            return index, found
        return self._new_index(), 0

    def folder(self) -> Path | None:
        """Where this database's index files are: ``<directory>/<database token>/v<version>-<stamp>/``."""
        return None if self.directory is None else self.directory / (self.token or "unknown")

    def _files(self) -> list[tuple[int, str | None, Path]]:
        """(version, stamp, folder) of the persisted files, newest first; stamp None: an older release's."""
        root = self.folder()
        if root is None or not root.is_dir():
            return []
        found = []
        for child in root.iterdir():
            name = _FILE_NAME.fullmatch(child.name)
            if name and (child / "index.zip").is_file():
                found.append((int(name[1]), name[2], child))
        return sorted(found, key=lambda f: f[0], reverse=True)

    def persist(self, session: Session) -> Path | None:
        """Write the current index as ``v<version>-<stamp>/index.zip`` (atomic) and drop older files."""
        if self.directory is None:
            return None
        version, token = read_state(session)
        with self._lock:
            # The session is the caller's read-only one (task, CLI): it may end before the embedding.
            version_stamp = stamp(session, version)
            index = self._catch_up(session, version, token, release=True)
            if version_stamp is None:  # the change log lost its row: nothing to vouch for a file
                return None
            target = self.directory / token / _file_name(version, version_stamp)
            if not (target / "index.zip").is_file():
                index.rebuild()
                index.save(target)
            for older, _, path in self._files():
                if older < version or (older == version and path != target):
                    shutil.rmtree(path, ignore_errors=True)
            return target / "index.zip"


_cache: IndexCache | None = None
_cache_lock = threading.Lock()


def _settle(index: KnowledgeIndex, large: int) -> None:
    """Keep the garbage collector off a large index that was just loaded.

    At 50 000 articles an index is some hundred thousand long-lived objects (articles, token arrays, the
    vocabulary), and each full collection walked them all: 6 in a benchmark's server, up to 172 ms each,
    stalling whichever request set it off. Frozen (the permanent generation) they are no longer walked, and
    are still freed by reference counting when the index is replaced. Unfreezing first lets this
    collection free what the previous frozen index left in reference cycles, so nothing piles up.
    """
    if len(index) < large:  # a small index costs a collection little; leave the collector alone
        return
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def process_cache() -> IndexCache:
    """This process's cache, made on first use from the settings."""
    global _cache
    with _cache_lock:
        if _cache is None:
            settings = get_settings()
            _cache = IndexCache(
                settings.kb_index_dir,
                embeddings=settings.kb_embeddings,
                vector_cache=settings.kb_vector_cache,
            )
        return _cache


def set_process_cache(cache: IndexCache | None) -> None:
    """Swap the process's cache (tests; a process that wants another directory)."""
    global _cache
    with _cache_lock:
        _cache = cache
