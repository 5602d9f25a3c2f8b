"""The int8 first pass of large indexes (knowledge_base/dense.py): close to the float32 product, and the
ranking it gives is the float32 ranking, with float32 scores (KnowledgeIndex._short_list)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base import Article, KnowledgeIndex
from knowledge_base import dense as dense_module
from knowledge_base.dense import DenseScorer
from knowledge_base.embedding import Vectors
from knowledge_base.index import embedded_text

pytest.importorskip("onnxruntime")
DIM = 384


def _bunched(rows: int, rng: np.random.Generator, spread: float = 0.35) -> Vectors:
    """Unit rows around one direction, as e5's are (most cosines 0.7-0.9): many near-ties."""
    base = rng.standard_normal(DIM)
    m = base + spread * np.linalg.norm(base) * rng.standard_normal((rows, DIM)) / np.sqrt(DIM)
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def test_int8_scores_do_not_saturate() -> None:
    """Rows and query with equal components: every code is +-127 and every query level the highest.
    A kernel adding two u8 x s8 products in int16 (AVX2 without VNNI) saturates on these unless the
    query keeps to 7 bits: the scores came out ~0.5 instead of 1 (seen on an AMD EPYC)."""
    flat = np.full(DIM, 1 / np.sqrt(DIM), dtype=np.float32)
    signs = np.where(np.arange(DIM) % 3 == 0, -1.0, 1.0).astype(np.float32)
    matrix = np.stack([flat, -flat, flat * signs, _bunched(1, np.random.default_rng(1))[0]])
    scorer = DenseScorer(matrix, int8=True)
    for query in (flat, flat * signs, -flat):
        exact = (matrix @ query).astype(np.float64)
        assert scorer.scores(query) == pytest.approx(exact, abs=0.01)


def test_int8_scores_are_close_to_float32() -> None:
    rng = np.random.default_rng(3)
    matrix = _bunched(3000, rng)
    matrix[7] = 0.0  # an article without vectors
    scorer = DenseScorer(matrix, int8=True)
    assert scorer.approximate
    for query in _bunched(40, rng):
        approx = scorer.scores(query)
        exact = (matrix @ query).astype(np.float64)
        assert np.abs(approx - exact).max() < 0.01
        assert np.median(np.abs(approx - exact)) < 0.003  # the query has 7 bits (dense.QUERY_LEVELS)
        assert approx[7] == 0.0
        rows = np.array([3, 7, 2999])
        assert scorer.exact(rows, query) == pytest.approx(exact[rows], abs=1e-6)
    plain = DenseScorer(matrix)  # below INT8_MIN_ROWS: float32 only
    assert not plain.approximate


class _TableEncoder:
    """Vectors looked up by text: a fixed, bunched world."""

    name = "table"

    def __init__(self, table: dict[str, Vectors]) -> None:
        self.table = table

    def encode(self, texts: list[str], *, query: bool = False) -> Vectors:
        return np.stack([self.table[t] for t in texts])


def _world(monkeypatch: pytest.MonkeyPatch, int8: bool) -> tuple[KnowledgeIndex, list[str]]:
    rng = np.random.default_rng(11)
    n = 900
    words = ["pump", "valve", "boiler", "fan", "filter", "sensor", "door", "belt"]
    articles = [
        Article(
            f"a{i}",
            f"{words[i % 8]} issue {i}",
            f"{words[(i * 3) % 8]} check {words[(i * 5) % 8]}",
            boost_factor=0.3 if i % 17 == 0 else 0.0,
        )
        for i in range(n)
    ]
    vectors = _bunched(2 * n + 30, rng, spread=0.25)
    queries = [f"{words[j % 8]} noise {j}" for j in range(20)] + [f"zzz {j}" for j in range(10)]
    table = {}
    for i, a in enumerate(articles):
        table[a.field_text] = vectors[2 * i]
        table[embedded_text(a)] = vectors[2 * i + 1]
    for j, q in enumerate(queries):
        table[q] = vectors[2 * n + j]
    articles[5] = Article("a5", articles[4].title, articles[4].body)  # a duplicate: an exact tie
    monkeypatch.setattr(dense_module, "INT8_MIN_ROWS", 0 if int8 else 10**9)
    index = KnowledgeIndex(articles, encoder=_TableEncoder(table))
    index.rebuild()
    return index, queries


@pytest.mark.parametrize("limit", [1, 10, 40, 300])
def test_int8_ranking_equals_the_float32_ranking(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    exact_index, queries = _world(monkeypatch, int8=False)
    expected = {q: exact_index.rank(q, limit, fill=True) for q in queries}
    int8_index, _ = _world(monkeypatch, int8=True)
    assert int8_index._build().dense.approximate
    for q in queries:
        got = int8_index.rank(q, limit, fill=True)
        assert [h.article_id for h in got] == [h.article_id for h in expected[q]], q
        for g, e in zip(got, expected[q], strict=True):  # float32 scores (to rounding), not int8 ones
            assert g.score == pytest.approx(e.score, abs=1e-6)
            assert g.semantic_score == pytest.approx(e.semantic_score, abs=1e-6)
