"""python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl [--out RUN.jsonl]
python -m knowledge_base search --articles A.jsonl "query" [--limit 5]

eval prints one JSON object on stdout (metrics of the product ranker and of plain BM25); logs go to
stderr. Exit 0 on success, 2 on bad input (the message names the file and line).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .evaluate import InputError, evaluate, read_articles, read_queries
from .index import KnowledgeIndex


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m knowledge_base", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser("eval", help="rank QUERIES against ARTICLES, print metrics (ours and BM25)")
    ev.add_argument("--articles", required=True)
    ev.add_argument("--queries", required=True)
    ev.add_argument("--out", default=None, help="write each query's top 10 ids here (JSONL)")
    se = sub.add_parser("search", help="print the best articles for one query, with snippets")
    se.add_argument("--articles", required=True)
    se.add_argument("--limit", type=int, default=5)
    se.add_argument("query")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        articles = read_articles(args.articles)
        if args.cmd == "eval":
            queries = read_queries(args.queries)
            result = evaluate(articles, queries, out_path=args.out)
            print(json.dumps(result))
        else:
            index = KnowledgeIndex(articles)
            for hit in index.search(args.query, args.limit):
                line = {
                    "id": hit.article_id,
                    "score": round(hit.score, 4),
                    "title": hit.title.html(),
                    "snippet": hit.snippet.html(),
                }
                print(json.dumps(line, ensure_ascii=False))
    except InputError as exc:
        print(f"knowledge_base: bad input: {exc}", file=sys.stderr)
        return 2
    print(f"knowledge_base: {args.cmd} took {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
