from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from knowledge_base import Article, KnowledgeIndex, build_index
from knowledge_base import index as index_module
from tests.knowledge_base.kb_fixtures import EN_ARTICLES, ZH_ARTICLES, HashEncoder


def _ids(index: KnowledgeIndex, query: str, limit: int = 10) -> list[str]:
    return [h.article_id for h in index.rank(query, limit)]


def _lexical(index: KnowledgeIndex, query: str, article_id: str) -> float:
    """The BM25 part of one article's score (0 when none of the query's terms is in it)."""
    hit = next(h for h in index.rank(query, len(index), fill=True) if h.article_id == article_id)
    return hit.lexical_score


def test_add_replace_remove_without_a_rebuild_from_scratch() -> None:
    encoder = HashEncoder()
    index = build_index(EN_ARTICLES, encoder=encoder)
    assert all(encoder.times_embedded(a.body) == 1 for a in EN_ARTICLES)
    assert "hp-ice" not in index

    index.upsert(Article("hp-ice", "Heat pump outdoor unit iced up", "Check the defrost sensor."))
    assert _ids(index, "heat pump defrost")[0] == "hp-ice"
    assert encoder.times_embedded("Check the defrost sensor.") == 1
    assert all(encoder.times_embedded(a.body) == 1 for a in EN_ARTICLES)  # the others were not redone

    # Replacing the text drops the old words and indexes the new ones.
    index.upsert(Article("hp-ice", "Heat pump compressor noise", "Tighten the mounting bolts."))
    assert _lexical(index, "defrost", "hp-ice") == 0.0
    assert _lexical(index, "compressor noise", "hp-ice") > 0.0
    assert _ids(index, "compressor noise")[0] == "hp-ice"

    # Same text, new boost: nothing is re-embedded.
    index.upsert(replace(index.get("hp-ice") or EN_ARTICLES[0], boost_factor=1.0))
    assert encoder.times_embedded("Tighten the mounting bolts.") == 1

    assert index.remove("hp-ice") is True
    assert index.remove("hp-ice") is False
    assert "hp-ice" not in _ids(index, "compressor noise")
    assert len(index) == len(EN_ARTICLES) and "hp-ice" not in index


def test_boost_lifts_a_proven_article() -> None:
    twins = [
        Article("a", "Boiler pressure too low", "Refill the system."),
        Article("b", "Boiler pressure too low", "Refill the system."),
    ]
    index = KnowledgeIndex(twins, encoder=None)
    assert _ids(index, "boiler pressure") == ["a", "b"]  # a tie keeps insertion order
    index.upsert(replace(twins[1], boost_factor=0.5))
    assert _ids(index, "boiler pressure") == ["b", "a"]


@pytest.mark.parametrize("encoder", [None, HashEncoder()], ids=["bm25", "hybrid"])
def test_bytes_round_trip_gives_equal_rankings(encoder: HashEncoder | None) -> None:
    index = KnowledgeIndex([*EN_ARTICLES, *ZH_ARTICLES], encoder=encoder)
    queries = ["boiler won't light", "paper stuck in printer", "锅炉点不着火", "空调滴水", "lift stuck"]
    reloaded = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=encoder)
    assert reloaded.ids() == index.ids()
    for query in queries:
        assert reloaded.rank(query, 10, fill=True) == index.rank(query, 10, fill=True), query


def test_reload_keeps_vectors_of_the_same_model_and_recomputes_for_another(tmp_path: Path) -> None:
    first = HashEncoder("hash-a")
    KnowledgeIndex(EN_ARTICLES, encoder=first).save(tmp_path)
    same = HashEncoder("hash-a")
    KnowledgeIndex.load(tmp_path, encoder=same)
    assert same.seen == []
    other = HashEncoder("hash-b")
    KnowledgeIndex.load(tmp_path, encoder=other)
    assert all(other.times_embedded(a.body) == 1 for a in EN_ARTICLES)


def test_an_index_from_another_analyser_version_is_re_analysed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = KnowledgeIndex(EN_ARTICLES, encoder=None).to_bytes()
    monkeypatch.setattr(index_module, "ANALYSIS_VERSION", 999)
    # Simulate stale tokens: what the old analyser made is ignored, today's analyze() runs again.
    monkeypatch.setattr(index_module, "analyze", lambda text, query=False: ["retokenised"])
    reloaded = KnowledgeIndex.from_bytes(data, encoder=None)
    assert [h.article_id for h in reloaded.rank("retokenised", 10)] == [a.id for a in EN_ARTICLES]


def test_updates_after_a_reload_work() -> None:
    index = KnowledgeIndex.from_bytes(KnowledgeIndex(EN_ARTICLES, encoder=None).to_bytes(), encoder=None)
    index.upsert(Article("new", "Water heater leaking", "Tighten the drain valve."))
    assert _ids(index, "water heater leak")[0] == "new"
    index.remove("printer-jam")
    assert "printer-jam" not in _ids(index, "printer jam")


def test_without_a_model_the_mode_is_flagged_bm25() -> None:
    assert KnowledgeIndex(EN_ARTICLES, encoder=None).mode == "bm25"
    hits = KnowledgeIndex(EN_ARTICLES, encoder=None).rank("boiler pressure")
    assert hits[0].article_id == "boiler-pressure" and hits[0].semantic_score is None
    hybrid = KnowledgeIndex(EN_ARTICLES, encoder=HashEncoder())
    assert hybrid.mode == "hybrid"
    assert hybrid.rank("boiler pressure")[0].semantic_score is not None
    # The model is multilingual: a Chinese query is embedded too (no shared term, semantic candidates only).
    assert all(h.semantic_score is not None and h.lexical_score == 0.0 for h in hybrid.rank("锅炉水压"))


def test_articles_are_embedded_as_passages_and_queries_as_queries() -> None:
    encoder = HashEncoder()
    index = KnowledgeIndex([*EN_ARTICLES, *ZH_ARTICLES], encoder=encoder)
    # Title field and full text of every article, English and Chinese alike, and no query among them.
    assert len(encoder.seen) == 2 * (len(EN_ARTICLES) + len(ZH_ARTICLES)) and encoder.queries == []
    index.rank("boiler pressure")
    index.encode_queries(["锅炉水压", "lift stuck"])
    assert encoder.queries == ["boiler pressure", "lift stuck", "锅炉水压"]
    assert len(encoder.seen) == 2 * (len(EN_ARTICLES) + len(ZH_ARTICLES))


def test_an_index_saved_without_a_model_is_embedded_on_load_and_vectors_are_dropped_without_one() -> None:
    encoder = HashEncoder()
    data = KnowledgeIndex(EN_ARTICLES, encoder=None).to_bytes()
    loaded = KnowledgeIndex.from_bytes(data, encoder=encoder)
    assert loaded.rank("boiler pressure")[0].semantic_score is not None
    assert all(encoder.times_embedded(a.body) == 1 for a in EN_ARTICLES)
    hybrid_data = KnowledgeIndex(EN_ARTICLES, encoder=HashEncoder()).to_bytes()
    reloaded = KnowledgeIndex.from_bytes(hybrid_data, encoder=None)
    assert reloaded.mode == "bm25" and reloaded.rank("boiler pressure")[0].semantic_score is None


def test_empty_index_and_bad_articles() -> None:
    assert KnowledgeIndex(encoder=None).rank("anything") == []
    with pytest.raises(ValueError):
        Article("", "t", "b")
    with pytest.raises(ValueError):
        Article("x", "t", "b", boost_factor=-1)


def test_a_language_filter_keeps_that_language_and_still_fills_the_list() -> None:
    # Eight English articles match "boiler E1" better than any Chinese one; asked for Chinese, the list
    # must hold the Chinese articles (not be cut from a wider mixed list), and only them.
    english = [
        Article(f"en-{i}", f"Boiler E1 ignition case {i}", "Boiler E1: check the gas valve.")
        for i in range(8)
    ]
    index = build_index([*english, *ZH_ARTICLES], encoder=HashEncoder())
    mixed = _ids(index, "boiler E1", limit=3)
    assert all(i.startswith("en-") for i in mixed)
    zh = index.rank("boiler E1", 3, fill=True, language="zh")
    assert sorted(h.article_id for h in zh) == sorted(a.id for a in ZH_ARTICLES)
    assert [h.article_id for h in index.search("boiler E1", 5, language="en")][:5] == mixed[:3] + [
        h.article_id for h in index.rank("boiler E1", 5)
    ][3:5]
    assert index.rank("boiler E1", 5, language="de") == []
    # A language change alone is patched in place (no rebuild) and filters at once.
    builds = index.builds
    index.upsert(replace(english[0], language="zh"))
    assert index.builds == builds
    assert "en-0" in [h.article_id for h in index.rank("boiler E1", 5, language="zh")]
    assert "en-0" not in [h.article_id for h in index.rank("boiler E1", 10, language="en")]
