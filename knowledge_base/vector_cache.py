"""A disk cache of article embeddings, so rebuilding an index re-embeds only articles whose text changed.

Embedding is the expensive part of building an index (about 0.1 s of CPU per article on this project's
machine, docs/knowledge_base.md), while BM25 and analysis take milliseconds. The cache maps
(encoder name, recipe, text) to the vector; one SQLite file, so several processes (web, worker, a bench
run) can share it, and a torn or missing file only costs re-embedding.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .embedding import Vectors

log = logging.getLogger(__name__)


def _key(namespace: str, text: str) -> bytes:
    return hashlib.blake2b(f"{namespace}\x00{text}".encode(), digest_size=20).digest()


class VectorCache:
    """``get_many``/``put_many`` of float32 rows keyed by a namespace (encoder + recipe) and a text."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # check_same_thread off: the connection is only used under our lock.
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get_many(self, namespace: str, texts: Sequence[str]) -> list[Vectors | None]:
        keys = [_key(namespace, t) for t in texts]
        found: dict[bytes, bytes] = {}
        with self._lock:
            try:
                for start in range(0, len(keys), 500):  # SQLite's bound-parameter limit
                    part = keys[start : start + 500]
                    marks = ",".join("?" * len(part))
                    rows = self._db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({marks})", part)
                    found.update((bytes(k), bytes(v)) for k, v in rows)
            except sqlite3.Error as exc:  # a cache: a broken one costs re-embedding, never a failed search
                log.warning("vector cache %s not read (%s); embedding instead", self.path, exc)
                found.clear()
        out: list[Vectors | None] = [
            np.frombuffer(found[k], dtype=np.float32).copy() if k in found else None for k in keys
        ]
        hit = sum(v is not None for v in out)
        self.hits += hit
        self.misses += len(out) - hit
        return out

    def put_many(self, namespace: str, texts: Sequence[str], vectors: Vectors) -> None:
        rows = [
            (_key(namespace, t), np.asarray(v, dtype=np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._lock:
            try:
                self._db.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)", rows)
                self._db.commit()
            except sqlite3.Error as exc:
                log.warning("vector cache %s not written (%s)", self.path, exc)
                self._db.rollback()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
