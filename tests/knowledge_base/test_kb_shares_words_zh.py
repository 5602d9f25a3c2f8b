"""``shares_words`` for Chinese: sharing a word is sharing a jieba word of two or more characters or a
bigram, not one character (BM25 scores single characters, so "高压" met every "电压" article), unless
the query itself is one character. Ranking is unchanged: only the flag is decided otherwise."""

from __future__ import annotations

from knowledge_base import Article, KnowledgeIndex
from knowledge_base.model import SearchHit

ARTICLES = [
    Article(id="generator", title="发电机输出电压不稳", body="检查电压调节器和接线端子。", language="zh"),
    Article(id="heat-pump", title="热泵高压报警", body="冷凝器脏堵导致高压报警，清洗冷凝器。", language="zh"),
    Article(id="pump", title="水泵漏水", body="更换机械密封。", language="zh"),
    Article(id="lift", title="Lift door does not close", body="Clean the light curtain.", language="en"),
]


def _shared(hits: list[SearchHit]) -> dict[str, bool]:
    return {h.article_id: h.holds_typed_words for h in hits}


def test_one_shared_character_is_no_shared_word() -> None:
    index = KnowledgeIndex(ARTICLES, encoder=None)
    found = index.search("高压", 5)
    # the generator article holds "压" (in 电压, voltage) only: found, ranked, but by no word of the query
    assert [h.article_id for h in found] == ["heat-pump", "generator"]
    assert found[1].lexical_score > 0
    assert _shared(found) == {"heat-pump": True, "generator": False}
    assert _shared(index.search("电压", 5)) == {"generator": True, "heat-pump": False}


def test_a_one_character_query_shares_its_character() -> None:
    index = KnowledgeIndex(ARTICLES, encoder=None)
    assert _shared(index.search("压", 5)) == {"heat-pump": True, "generator": True}
    assert _shared(index.search("水", 5)) == {"pump": True}
    # a one-character run within a longer query keeps its character too
    assert _shared(index.search("压 报警", 5)) == {"heat-pump": True, "generator": True}


def test_a_bigram_is_a_shared_word() -> None:
    # "压报" is no jieba word, but the bigram of "高压报警" the article was indexed with
    index = KnowledgeIndex(ARTICLES, encoder=None)
    assert _shared(index.search("压报", 5))["heat-pump"] is True


def test_suggestions_count_words_alike() -> None:
    index = KnowledgeIndex(ARTICLES, encoder=None)
    shared = _shared(index.suggest("高压", "", limit=5))
    assert shared["heat-pump"] is True and shared["generator"] is False


def test_english_is_unchanged() -> None:
    index = KnowledgeIndex(ARTICLES, encoder=None)
    assert _shared(index.search("door", 5)) == {"lift": True}
