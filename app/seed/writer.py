"""Bulk row writer for the seed: PostgreSQL COPY, else SQLAlchemy Core executemany in chunks.

Rows are tuples in a declared column order with precomputed primary keys; JSON columns arrive
as already-serialised text (cheap to build, and what COPY wants). No ORM objects are involved,
so 10⁷ rows stay within minutes. On PostgreSQL the id sequences are moved past the written ids
at the end, so later inserts by the app do not collide.
"""

from __future__ import annotations

import json
import queue
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table, func, insert, select, text
from sqlalchemy.orm import Session

from app.platform.db import Base

CHUNK = 5000


def table(name: str) -> Table:
    return Base.metadata.tables[name]


class BulkWriter:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.conn = session.connection()
        self.pg = self.conn.dialect.name == "postgresql"
        self.counts: Counter[str] = Counter()
        self._next: dict[str, int] = {}
        self._json_cols: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self._deferred: list[str] = []  # CREATE INDEX statements to run after the load
        self._queue: queue.Queue[tuple[str, Sequence[str], list[tuple[Any, ...]]] | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def next_id(self, name: str, n: int = 1) -> int:
        """Reserve n consecutive ids of a table; returns the first."""
        if name not in self._next:
            t = table(name)
            current = self.conn.execute(select(func.max(t.c.id))).scalar()
            self._next[name] = (current or 0) + 1
        first = self._next[name]
        self._next[name] += n
        return first

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def write(self, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.counts[name] += len(rows)
        if self._queue is not None:
            if self._error is not None:
                self.drain()
            self._queue.put((name, columns, rows))
        elif self.pg:
            self._copy(name, columns, rows)
        else:
            self._insert(name, columns, rows)

    def background(self, names: Sequence[str]) -> None:
        """PostgreSQL: COPY from a thread, so the server loads one chunk while the next one is
        generated. Id counters of `names` are primed first: until `drain()` only the thread
        may use the connection."""
        if not self.pg:
            return
        for name in names:
            if "id" in table(name).c:
                self.next_id(name, 0)
        self._queue = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="seed-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        while (item := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._copy(*item)
                except BaseException as exc:  # re-raised in the main thread by drain()
                    self._error = exc

    def drain(self, *, reraise: bool = True) -> None:
        """Wait for the background COPYs; re-raise the first failure."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            if reraise:
                raise error

    def _copy(self, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        raw = self.conn.connection.driver_connection
        assert raw is not None  # a live connection (COPY is PostgreSQL only)
        cols = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cur, cur.copy(f'COPY "{name}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)

    def _insert(self, name: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        t = table(name)
        key = (name, tuple(columns))
        if key not in self._json_cols:
            self._json_cols[key] = [i for i, c in enumerate(columns) if isinstance(t.c[c].type, JSON)]
        json_idx = self._json_cols[key]
        stmt = insert(t)
        for lo in range(0, len(rows), CHUNK):
            batch = []
            for row in rows[lo : lo + CHUNK]:
                values = dict(zip(columns, row, strict=True))
                for i in json_idx:
                    values[columns[i]] = json.loads(row[i])
                batch.append(values)
            self.session.execute(stmt, batch)

    def defer_indexes(self, names: Sequence[str]) -> int:
        """PostgreSQL: drop the secondary indexes of these (empty) tables until `finish`.

        Building an index once over all rows is far cheaper than updating it per row (trigram
        GIN indexes above all). Constraint indexes (primary keys, unique constraints) stay.
        Everything runs in the seed's transaction, so a failed seed leaves the indexes as they
        were. Returns the number of indexes deferred."""
        if not self.pg:
            return 0
        empty = [
            n for n in names if self.conn.execute(text(f'SELECT NOT EXISTS (SELECT 1 FROM "{n}")')).scalar()
        ]
        if not empty:
            return 0
        rows = self.conn.execute(
            text(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid "
                "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
                "ORDER BY 1"
            ),
            {"names": empty},
        ).all()
        for index, definition in rows:
            self.conn.execute(text(f"DROP INDEX {index}"))
            self._deferred.append(definition)
        return len(rows)

    def skip_fk_checks(self) -> bool:
        """PostgreSQL as superuser: no per-row foreign-key triggers for this transaction
        (what pg_restore --disable-triggers does). The seed writes parents first with known
        ids, and the SQLite tests load the same rows with foreign keys enforced."""
        if not self.pg:
            return False
        superuser = self.conn.execute(
            text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        ).scalar()
        if superuser:
            self.conn.execute(text("SET LOCAL session_replication_role = replica"))
        return bool(superuser)

    def finish(self) -> None:
        """PostgreSQL: rebuild deferred indexes, move id sequences past the ids written
        explicitly, and refresh planner statistics of the loaded tables."""
        self.drain()
        if not self.pg:
            return
        if self._deferred:
            self.conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for definition in self._deferred:
            self.conn.execute(text(definition))
        self._deferred = []
        for name in sorted(self.counts):
            if "id" not in table(name).c:
                continue
            self.conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                    f'(SELECT COALESCE(MAX(id), 0) + 1 FROM "{name}"), false)'
                )
            )
        for name in sorted(self.counts):
            self.conn.execute(text(f'ANALYZE "{name}"'))
        self.conn.execute(text("SET LOCAL session_replication_role = origin"))
