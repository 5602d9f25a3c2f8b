"""English analysis choices, BM25-only (no model): stemming and stop words (NDCG@10 per labelled set).

python bench/kb/en_variants.py ARTICLES.jsonl QUERIES.jsonl [ARTICLES2 QUERIES2 ...]

The stemming rows need PyStemmer (`pip install PyStemmer`), which is no dependency of the project; without it
they are left out and the script says so.
"""

from __future__ import annotations

import importlib.util
import sys

from knowledge_base import analysis
from knowledge_base.evaluate import evaluate, read_articles, read_queries


def main() -> None:
    pairs = list(zip(sys.argv[1::2], sys.argv[2::2], strict=True))
    shipped = analysis.STEMMING, analysis.STOP_WORDS
    stemming = (True, False)
    if importlib.util.find_spec("Stemmer") is None:
        print("stem=True rows left out: PyStemmer is not installed (pip install PyStemmer)")
        stemming = (False,)
    for stem_on in stemming:
        for stops_on in (True, False):
            analysis.STEMMING = stem_on  # Snowball English stemmer (PyStemmer, a bench-only import)
            analysis.STOP_WORDS = analysis.ENGLISH_FUNCTION_WORDS if stops_on else frozenset()
            cells = []
            for articles_path, queries_path in pairs:
                result = evaluate(read_articles(articles_path), read_queries(queries_path), encoder=None)
                cells.append(f"{result['ndcg@10']:.3f}")
            print(f"stem={stem_on!s:5} stopwords={stops_on!s:5} NDCG@10 " + " ".join(cells))
    analysis.STEMMING, analysis.STOP_WORDS = shipped


if __name__ == "__main__":
    main()
