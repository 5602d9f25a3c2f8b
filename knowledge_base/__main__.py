"""python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl [--out RUN.jsonl]
python -m knowledge_base search --articles A.jsonl "query" [--limit 5]

eval prints one JSON object on stdout (metrics of the product ranker and of plain BM25); logs and
progress go to stderr. Exit 0 on success, 2 on bad input (the message names the file and line) or an
--out path that cannot be written (checked before ranking).

Environment:
  FIELDLINE_KB_EMBEDDINGS=0   BM25 only: no embedding model, fast (seconds, not minutes, at 20 000
                              articles); the product's ranker without its semantic part
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from .evaluate import InputError, OutputError, check_out_path, evaluate, read_articles, read_queries
from .index import MAX_QUERY_CHARS, KnowledgeIndex

EVAL_HELP = f"""Rank every query of QUERIES against ARTICLES with the product ranker and with plain BM25;
print one JSON object of metrics (NDCG@10, MRR, recall@1/3/5) on stdout.

ARTICLES.jsonl: one object a line, {{"id", "title", "body", "tags"?}}; other keys are ignored.
QUERIES.jsonl:  one object a line, {{"query", "id"?, "relevant"?: [article ids]}}; a query without
                "relevant" is ranked (and written to --out) but not scored. Unknown keys and relevant
                ids that are not articles are warned about on stderr. A query is ranked as its first
                {MAX_QUERY_CHARS} characters (as the app cuts it).

Embedding 20 000 articles takes many minutes (progress on stderr);
FIELDLINE_KB_EMBEDDINGS=0 ranks with BM25 only, in seconds.

examples:
  python -m knowledge_base eval --articles bench/kb_en/articles.jsonl \\
      --queries bench/kb_en/queries.jsonl
  python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl --out run.jsonl > metrics.json
  FIELDLINE_KB_EMBEDDINGS=0 python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl
"""

SEARCH_HELP = """Print the best articles for one query, one JSON object a line: id, score, and the title and
snippet as HTML with the query's words in <mark>.

examples:
  python -m knowledge_base search --articles bench/kb_en/articles.jsonl "boiler pressure"
  python -m knowledge_base search --articles A.jsonl --limit 10 "F28 故障"
  FIELDLINE_KB_EMBEDDINGS=0 python -m knowledge_base search --articles A.jsonl "pump noise"
"""


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    ap = argparse.ArgumentParser(prog="python -m knowledge_base", description=__doc__, formatter_class=raw)
    sub = ap.add_subparsers(dest="cmd", required=True)
    ev = sub.add_parser(
        "eval",
        help="rank QUERIES against ARTICLES, print metrics (ours and BM25)",
        description=EVAL_HELP,
        formatter_class=raw,
    )
    ev.add_argument("--articles", required=True, metavar="ARTICLES.jsonl")
    ev.add_argument("--queries", required=True, metavar="QUERIES.jsonl")
    ev.add_argument(
        "--out",
        default=None,
        metavar="RUN.jsonl",
        help="write each query's top 10 ids here (JSONL; a file: stdout holds the metrics)",
    )
    se = sub.add_parser(
        "search",
        help="print the best articles for one query, with snippets",
        description=SEARCH_HELP,
        formatter_class=raw,
    )
    se.add_argument("--articles", required=True, metavar="ARTICLES.jsonl")
    se.add_argument("--limit", type=_positive, default=5, help="how many articles (at least 1; default 5)")
    se.add_argument("query")
    args = ap.parse_args(argv)
    started = time.monotonic()
    try:
        if args.cmd == "eval" and args.out is not None:
            check_out_path(args.out)  # before reading and ranking: an error now, not after minutes
        articles = read_articles(args.articles)
        if args.cmd == "eval":
            queries = read_queries(args.queries)
            result = evaluate(articles, queries, out_path=args.out)
            print(json.dumps(result))
        else:
            index = KnowledgeIndex(articles)
            for hit in index.search(args.query[:MAX_QUERY_CHARS], args.limit):
                line = {
                    "id": hit.article_id,
                    "score": round(hit.score, 4),
                    "title": hit.title.html(),
                    "snippet": hit.snippet.html(),
                }
                print(json.dumps(line, ensure_ascii=False))
    except OutputError as exc:
        print(f"knowledge_base: {exc}", file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"knowledge_base: bad input: {exc}", file=sys.stderr)
        return 2
    print(f"knowledge_base: {args.cmd} took {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
