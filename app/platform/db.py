"""Engine, session factory, declarative base and the unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.platform.config import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


# True while serving a request that must not write (GET, HEAD): on SQLite its transactions
# begin DEFERRED and read a WAL snapshot instead of queueing for the single write lock.
_read_only: ContextVar[bool] = ContextVar("fieldline_read_only", default=False)


@contextmanager
def read_only_transactions(flag: bool = True) -> Iterator[None]:
    """Transactions begun inside this block (this context, the threads it hands work to) only read."""
    token = _read_only.set(flag)
    try:
        yield
    finally:
        _read_only.reset(token)


def make_engine(url: str, *, busy_timeout_s: float = 30.0) -> Engine:
    settings = get_settings()
    # Sized with admission (config.Settings.db_pool_size_total): admitted requests never wait
    # for a connection; anything else waits at most pool_timeout and gets a 503, not a hang.
    pool = {"pool_size": settings.db_pool_size_total, "pool_timeout": settings.db_pool_timeout_s}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": busy_timeout_s}, max_overflow=0, **pool
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            # pysqlite's own transaction handling breaks SAVEPOINTs: take it over (the
            # documented SQLAlchemy recipe) so BEGIN is emitted by the "begin" hook below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if _read_only.get():
                # DEFERRED under WAL: a reader sees the last commit and never waits for a writer.
                conn.exec_driver_sql("BEGIN")
                return
            # IMMEDIATE: take the write lock up front, so two writers queue on busy_timeout
            # instead of one failing with "database is locked" after reading a stale snapshot.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, max_overflow=0, pool_pre_ping=True, **pool)


_engine: Engine | None = None
SessionFactory: sessionmaker[Session] = sessionmaker(expire_on_commit=False)


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
        SessionFactory.configure(bind=_engine)
    return _engine


def new_session() -> Session:
    get_engine()
    return SessionFactory()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction: commit on success, roll back on error. Services only flush."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run fn once the session's whole transaction has committed (e.g. to enqueue a task).

    Inside a SAVEPOINT (`begin_nested`) the callback belongs to that savepoint: releasing it
    hands the callback to the enclosing transaction, rolling it back drops it; only the
    outermost COMMIT runs it. (SQLAlchemy fires `after_commit` for savepoints too, which would
    let a worker see a task before its rows are committed.)"""
    depth = _depth(session.get_nested_transaction())
    session.info.setdefault("after_commit", []).append((depth, fn))


def _depth(transaction: SessionTransaction | None) -> int:
    depth = 0
    while transaction is not None and transaction.nested:
        depth, transaction = depth + 1, transaction.parent
    return depth


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    savepoint = session.get_nested_transaction()
    if savepoint is not None:  # a RELEASE SAVEPOINT: the callbacks move one level out
        depth = _depth(savepoint)
        session.info["after_commit"] = [
            (min(d, depth - 1), fn) for d, fn in session.info.get("after_commit", [])
        ]
        return
    for _, fn in session.info.pop("after_commit", []):
        fn()


@event.listens_for(Session, "after_transaction_end")
def _drop_after_commit(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:  # still at this level: the savepoint was rolled back
        depth = _depth(transaction)
        kept = [(d, fn) for d, fn in session.info.get("after_commit", []) if d < depth]
        session.info["after_commit"] = kept
    elif transaction.parent is None:  # the outermost transaction ended without its callbacks running
        session.info.pop("after_commit", None)
