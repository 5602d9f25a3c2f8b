"""Ranking metrics with binary relevance, computed on the top-10 list the eval command writes.

Computing every metric from the same 10 ids as ``--out`` means an outside script can recompute them
from RUN.jsonl and get the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

CUTOFF = 10
RECALL_KS = (1, 3, 5)
METRIC_KEYS = ("ndcg@10", "mrr", "recall@1", "recall@3", "recall@5")


def ndcg_at_10(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """DCG of the top 10 over the ideal DCG with min(|relevant|, 10) relevant ids on top."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 2) for rank, doc in enumerate(ranked[:CUTOFF]) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(len(relevant), CUTOFF)))
    return dcg / ideal


def reciprocal_rank(ranked: Sequence[str], relevant: Collection[str]) -> float:
    """1 / rank of the first relevant id in the top 10, 0 when none is there."""
    for rank, doc in enumerate(ranked[:CUTOFF]):
        if doc in relevant:
            return 1.0 / (rank + 1)
    return 0.0


def hit_at(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    return 1.0 if any(doc in relevant for doc in ranked[:k]) else 0.0


def summarise(runs: Sequence[tuple[Sequence[str], Collection[str]]]) -> dict[str, float | None]:
    """Mean of each metric over (ranked, relevant) pairs; every value None when there are none."""
    if not runs:
        return dict.fromkeys(METRIC_KEYS)
    n = len(runs)
    out: dict[str, float | None] = {
        "ndcg@10": sum(ndcg_at_10(r, rel) for r, rel in runs) / n,
        "mrr": sum(reciprocal_rank(r, rel) for r, rel in runs) / n,
    }
    for k in RECALL_KS:
        out[f"recall@{k}"] = sum(hit_at(r, rel, k) for r, rel in runs) / n
    return out
