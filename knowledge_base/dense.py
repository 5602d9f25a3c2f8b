"""Dense scores q · v of a query against every article row: float32, or an int8 first pass at scale.

At 50 000 articles the float32 product reads 77 MB per query: memory-bound, 2-4 ms of a search on a
busy 2-core box (docs/knowledge_base.md). From INT8_MIN_ROWS rows on, a copy of the matrix is also kept
as int8 (one scale per row: a quarter of the bytes) and multiplied by onnxruntime's integer kernel
(~1 ms). Those scores are approximations (per-query maximum error ~0.002 in cosine); the ranker uses them
only to pick a short list (the best RESCORED + limit rows), scores that list with the float32 rows, and
ranks by the float32 scores (index.py). So a hit's score is always the float32 one; what the int8 pass
could change is which rows make the short list, and on 400 queries over 50 000 articles it never changed
a top 10 (measured on a CPU with VNNI with an 8-bit query, and on one without with the 7-bit query used
now; docs/knowledge_base.md).

A bound on the int8 error is known exactly (|q||v - s b| + |q - s_q k||s b|, Cauchy-Schwarz), and was
tried first to make the short list provably complete: e5's cosines are so bunched that every row within
the bound of the 10th best meant ~4 500 rows a query to rescore, slower than the float32 product alone.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
FloatArray = npt.NDArray[np.float64]

# Below this many rows the float32 product costs about a millisecond: not worth a second copy.
INT8_MIN_ROWS = 20_000
# Rows scored with float32 beyond the ``limit`` asked for. Over 400 queries at 50 000 articles the true
# top 10 sat at int8 place 17 at worst, and the true 100 nearest (candidates) at place 149 at worst, of
# 210 and 300 rescored (with the 7-bit query on an AVX2 CPU: 15 and 127; docs/knowledge_base.md).
RESCORED = 200
# The query's integer levels either side of its zero point (7 bits, see _Int8Product.scores).
QUERY_LEVELS = 63.0
QUERY_ZERO = 64


class DenseScorer:
    """Scores of one query against the rows of ``matrix`` (n x dim float32)."""

    def __init__(self, matrix: Vectors, *, int8: bool | None = None) -> None:
        self.matrix = matrix
        use_int8 = matrix.shape[0] >= INT8_MIN_ROWS if int8 is None else int8
        self._int8 = _Int8Product.build(matrix) if use_int8 and matrix.shape[1] else None

    @property
    def approximate(self) -> bool:
        """Whether ``scores`` gives int8 approximations (to be replaced by ``exact`` where they count)."""
        return self._int8 is not None

    def scores(self, query: Vectors) -> FloatArray:
        if self._int8 is None:
            return (self.matrix @ query).astype(np.float64)
        return self._int8.scores(query)

    def exact(self, rows: npt.NDArray[np.intp], query: Vectors) -> FloatArray:
        """The float32 scores of ``rows``."""
        return (self.matrix[rows] @ query).astype(np.float64)


class _Int8Product:
    def __init__(self, session: object, scale: FloatArray) -> None:
        self._session = session
        self._scale = scale  # per row

    @classmethod
    def build(cls, matrix: Vectors) -> _Int8Product | None:
        try:
            from .ort_session import integer_matvec
        except ImportError:  # onnxruntime absent: the float32 product serves
            return None
        peak = np.abs(matrix).max(axis=1)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        codes = np.rint(matrix / scale[:, None]).astype(np.int8)
        return cls(integer_matvec(np.ascontiguousarray(codes.T), QUERY_ZERO), scale.astype(np.float64))

    def scores(self, query: Vectors) -> FloatArray:
        peak = float(np.abs(query).max())
        q_scale = peak / QUERY_LEVELS if peak > 0 else 1.0
        # uint8 with zero point 64: onnxruntime's fast integer kernel takes an unsigned left operand
        # (int8 x int8 ran a reference kernel, 25x slower, measured). Only 7 bits of it: on a CPU
        # without VNNI (AVX2) the kernel adds pairs of u8 x s8 products in int16, which saturates
        # above 32 767 (255 x 127 x 2 would): on an AMD EPYC a true top-10 row fell to int8 place
        # 3 149 at 50 000 articles. 127 x 127 x 2 always fits.
        shifted = (np.rint(query / q_scale) + QUERY_ZERO).astype(np.uint8)[None, :]
        dots = self._session.run(None, {"q": shifted})[0][0]  # type: ignore[attr-defined]
        approx: FloatArray = dots.astype(np.float64) * (q_scale * self._scale)
        return approx
