"""The eval contract: read ARTICLES.jsonl and QUERIES.jsonl, rank, score against plain BM25.

Bad input raises :class:`InputError` naming the file and line; the command turns it into exit code 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rank_bm25 import BM25Okapi  # type: ignore[import-untyped,unused-ignore]

from .analysis import baseline_tokens
from .index import EncoderChoice, KnowledgeIndex
from .metrics import CUTOFF, summarise
from .model import Article


class InputError(ValueError):
    """A bad line in an input file; the message names the file and the 1-based line number."""


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    id: Any = None
    relevant: tuple[str, ...] | None = None


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        raw = path.read_text(encoding="utf-8-sig")  # a leading byte-order mark (Windows tools) is no data
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    out = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue  # blank lines (a trailing newline, say) carry nothing
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number}: not valid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        out.append((number, obj))
    return out


def _text(obj: dict[str, Any], key: str, where: str, *, required: bool) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{where}: `{key}` must be a string")
    return value


def _string_list(obj: dict[str, Any], key: str, where: str) -> tuple[str, ...] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: `{key}` must be a list of strings")
    return tuple(value)


def read_articles(path: str | Path) -> list[Article]:
    path = Path(path)
    articles: list[Article] = []
    seen: dict[str, int] = {}
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        article_id = _text(obj, "id", where, required=True)
        if not article_id:
            raise InputError(f"{where}: `id` must not be empty")
        if article_id in seen:
            raise InputError(f"{where}: duplicate id {article_id!r} (first on line {seen[article_id]})")
        seen[article_id] = number
        articles.append(
            Article(
                id=article_id,
                title=_text(obj, "title", where, required=True),
                body=_text(obj, "body", where, required=True),
                tags=_string_list(obj, "tags", where) or (),
            )
        )
    return articles


def read_queries(path: str | Path) -> list[Query]:
    path = Path(path)
    queries = []
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        queries.append(
            Query(
                text=_text(obj, "query", where, required=True),
                id=obj.get("id"),
                relevant=_string_list(obj, "relevant", where),
            )
        )
    return queries


class BaselineBM25:
    """The fixed yardstick: rank-bm25 BM25Okapi defaults over lower-cased word tokens of title + body."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self._ids = [a.id for a in articles]
        corpus = [baseline_tokens(a.title + " " + a.body) for a in articles]
        self._bm25 = BM25Okapi(corpus) if corpus else None

    def rank(self, query: str, limit: int = CUTOFF) -> list[str]:
        if self._bm25 is None:
            return []
        scores = self._bm25.get_scores(baseline_tokens(query))
        order = sorted(range(len(self._ids)), key=lambda i: -scores[i])  # stable: ties by file order
        return [self._ids[i] for i in order[:limit]]


def evaluate(
    articles: Sequence[Article],
    queries: Sequence[Query],
    *,
    encoder: EncoderChoice = "auto",
    out_path: str | Path | None = None,
) -> dict[str, Any]:
    """Rank every query (top 10, filled) with the product ranker and the baseline; the stdout object."""
    index = KnowledgeIndex(articles, encoder=encoder)
    print(f"knowledge_base: {len(articles)} articles indexed, ranker mode {index.mode}", file=sys.stderr)
    baseline = BaselineBM25(articles)
    vectors = index.encode_queries([q.text for q in queries])
    cache: dict[str, tuple[list[str], list[str]]] = {}
    ours_runs, base_runs = [], []
    lines = []
    for query in queries:
        if query.text not in cache:  # query texts repeat; rankings are deterministic
            hits = index.rank(query.text, CUTOFF, fill=True, query_vector=vectors.get(query.text))
            ranked = [h.article_id for h in hits]
            cache[query.text] = (ranked, baseline.rank(query.text))
        ranked, base = cache[query.text]
        if out_path is not None:
            lines.append(
                json.dumps({"query": query.text, "id": query.id, "ranked": ranked}, ensure_ascii=False)
            )
        if query.relevant is not None:
            relevant = set(query.relevant)
            ours_runs.append((ranked, relevant))
            base_runs.append((base, relevant))
    if out_path is not None:
        Path(out_path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    result: dict[str, Any] = {"queries": len(queries), "labelled": len(ours_runs)}
    result.update(summarise(ours_runs))
    result["bm25"] = summarise(base_runs)
    return result
