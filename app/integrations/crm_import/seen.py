"""Which line of the file first used a key (an external id, a serial), across all batches.

The import streams the file batch by batch, so "duplicate of line 7" needs a memory of every
key seen so far; a dict would grow with the file. The keys live in a private scratch SQLite
database instead (standard library, its own temporary file, deleted on close): its page cache
bounds the memory, and the application's database (and its write lock) is never involved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from types import TracebackType

_CHUNK = 500  # keys per IN (...) query, well under SQLite's bound-parameter limit


class FirstSeen:
    def __init__(self) -> None:
        # "": a private temporary database on disk that SQLite deletes when it is closed.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE seen (kind TEXT NOT NULL, key TEXT NOT NULL, line INTEGER NOT NULL,"
            " PRIMARY KEY (kind, key)) WITHOUT ROWID"
        )

    def claim(self, kind: str, keyed_lines: Sequence[tuple[int, str]]) -> dict[int, int]:
        """Record each (line, key) in file order; returns {line: first line} for repeated keys."""
        first = self._earlier(kind, sorted({key for _, key in keyed_lines}))
        repeated: dict[int, int] = {}
        new: list[tuple[str, str, int]] = []
        for line, key in keyed_lines:
            if key in first:
                repeated[line] = first[key]
            else:
                first[key] = line
                new.append((kind, key, line))
        self._db.executemany("INSERT INTO seen (kind, key, line) VALUES (?, ?, ?)", new)
        return repeated

    def claimed_before(self, kind: str, keyed_lines: Sequence[tuple[int, str]]) -> dict[int, int]:
        """{line: first line} for the keys an earlier line claimed; records nothing (for a line
        that is not imported, so it holds no key a later line may use)."""
        first = self._earlier(kind, sorted({key for _, key in keyed_lines}))
        return {line: first[key] for line, key in keyed_lines if key in first and first[key] < line}

    def _earlier(self, kind: str, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            found.update(
                self._db.execute(
                    f"SELECT key, line FROM seen WHERE kind = ? AND key IN ({marks})",  # noqa: S608
                    (kind, *part),
                ).fetchall()
            )
        return found

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FirstSeen:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
