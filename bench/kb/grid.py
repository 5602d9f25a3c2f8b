"""Sensitivity of the ranker's two fusion knobs on one labelled set (prints a table; tunes nothing itself).

    python bench/kb/grid.py ARTICLES.jsonl QUERIES.jsonl

Scores every (LEXICAL_WEIGHT, TITLE_SHARE) pair from cached per-query lexical and cosine arrays, so the
model encodes each text once. Used on bench/kb_en and bench/kb_zh to choose the knobs (best mean); run on
covidfaq only to report.
"""

from __future__ import annotations

import sys

import numpy as np

from knowledge_base.analysis import analyze
from knowledge_base.embedding import default_encoder
from knowledge_base.evaluate import read_articles, read_queries
from knowledge_base.index import KnowledgeIndex, _scores
from knowledge_base.metrics import summarise


def main() -> None:
    articles = read_articles(sys.argv[1])
    queries = [q for q in read_queries(sys.argv[2]) if q.relevant]
    encoder = default_encoder()
    assert encoder is not None, "the grid needs the embedding model"
    index = KnowledgeIndex(articles, encoder=encoder)
    built = index._build()
    n = len(built.ids)
    texts = sorted({q.text for q in queries})
    qv = dict(zip(texts, encoder.encode(texts, query=True), strict=True))
    cache = {}
    vectors = np.stack([index._vectors[i] for i in built.ids])  # (n, 2, dim): title field, full text
    for t in texts:
        ids = [index._vocab[token] for token in analyze(t) if token in index._vocab]
        full, field = _scores(built.full, ids, n), _scores(built.field, ids, n)
        cache[t] = (full, field, vectors[:, 0] @ qv[t], vectors[:, 1] @ qv[t])

    def run(w: float, share: float, lexical: str = "both") -> float:
        runs = []
        for q in queries:
            full, field, cf, cb = cache[q.text]
            lex = {"both": full + field, "full": full, "field": field}[lexical]
            top = lex.max()
            norm = lex / top if top > 0 else lex
            fused = w * norm + (1 - w) * (share * cf + (1 - share) * cb)
            order = np.argsort(-fused, kind="stable")[:10]
            runs.append(([built.ids[i] for i in order], set(q.relevant or ())))
        value = summarise(runs)["ndcg@10"]
        assert value is not None
        return value

    weights = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0]
    shares = [0.0, 0.25, 0.5, 0.75, 1.0]
    print(f"{len(queries)} labelled queries, {n} articles; NDCG@10, rows LEXICAL_WEIGHT, columns TITLE_SHARE")
    print("w    " + " ".join(f"{s:6.2f}" for s in shares))
    for w in weights:
        print(f"{w:4.2f} " + " ".join(f"{run(w, s):6.3f}" for s in shares))
    for lexical in ("full", "field"):
        print(f"lexical={lexical} only (w=1):", f"{run(1.0, 0.5, lexical):.3f}")


if __name__ == "__main__":
    main()
