"""Which Chinese tokens to index: jieba words, character bigrams, or both (NDCG@10 on a labelled set).

python bench/kb/zh_variants.py bench/kb_zh/articles.jsonl bench/kb_zh/queries.jsonl
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from knowledge_base import analysis
from knowledge_base.evaluate import evaluate, read_articles, read_queries


def words(run: str) -> Iterator[str]:
    yield from (w for w in analysis.segment_chinese(run) if w not in analysis.CHINESE_STOP_TOKENS)


def bigrams(run: str) -> Iterator[str]:
    yield from ("#" + run[i : i + 2] for i in range(len(run) - 1))


def unigrams(run: str) -> Iterator[str]:
    yield from run


VARIANTS = {
    "jieba words": words,
    "char bigrams": bigrams,
    "chars + bigrams": lambda run: [*unigrams(run), *bigrams(run)],
    "jieba + bigrams": lambda run: [*words(run), *bigrams(run)],
    "jieba + chars + bigrams": lambda run: [*words(run), *unigrams(run), *bigrams(run)],
    "shipped": analysis._chinese_tokens,
}


def main() -> None:
    articles, queries = read_articles(sys.argv[1]), read_queries(sys.argv[2])
    shipped = analysis._chinese_tokens
    for name, fn in VARIANTS.items():
        analysis._chinese_tokens = fn  # type: ignore[assignment]
        result = evaluate(articles, queries, encoder=None)
        scores = f"NDCG@10 {result['ndcg@10']:.3f}  MRR {result['mrr']:.3f}  R@1 {result['recall@1']:.3f}"
        print(f"{name:28s} {scores}")
    analysis._chinese_tokens = shipped


if __name__ == "__main__":
    main()
