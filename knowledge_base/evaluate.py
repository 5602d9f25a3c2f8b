"""The eval contract: read ARTICLES.jsonl and QUERIES.jsonl, rank, score against plain BM25.

Bad input raises :class:`InputError` naming the file and line; the command turns it into exit code 2, as
an unwritable ``--out`` (:class:`OutputError`, checked before any ranking). Suspicious but usable input (a
query key the contract does not know, a relevant id that is not an article) is warned about on stderr and
changes nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rank_bm25 import BM25Okapi  # type: ignore[import-untyped,unused-ignore]

from .analysis import baseline_tokens
from .embedding import default_encoder
from .index import MAX_QUERY_CHARS, EncoderChoice, KnowledgeIndex
from .metrics import CUTOFF, summarise
from .model import Article


class InputError(ValueError):
    """A bad line in an input file; the message names the file and the 1-based line number."""


class OutputError(InputError):
    """The ``--out`` path cannot be written; the message names it."""


Log = Callable[[str], None]
QUERY_KEYS = frozenset({"id", "query", "relevant"})  # the contract's keys of a query line
WARNINGS_SHOWN = 20  # of one kind; the rest are counted ("... and 312 more")
PROGRESS_SECONDS = 5.0  # at most one embedding progress line this often (and one at the end)


def _stderr(message: str) -> None:
    print(f"knowledge_base: {message}", file=sys.stderr, flush=True)


def _warn_all(log: Log, warnings: list[str]) -> None:
    for message in warnings[:WARNINGS_SHOWN]:
        log(f"warning: {message}")
    if len(warnings) > WARNINGS_SHOWN:
        log(f"warning: ... and {len(warnings) - WARNINGS_SHOWN} more like these")


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    id: Any = None
    relevant: tuple[str, ...] | None = None
    where: str = ""  # "FILE:LINE", for messages


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


def read_queries(path: str | Path, log: Log = _stderr) -> list[Query]:
    """The queries of ``path``. A blank query is an error (it asks nothing); a key other than ``id``,
    ``query``, ``relevant`` is warned about through ``log`` (a typo such as "relevnt" would otherwise
    leave the query unlabelled without a word)."""
    path = Path(path)
    queries = []
    unknown: list[str] = []
    for number, obj in _json_lines(path):
        where = f"{path}:{number}"
        text = _text(obj, "query", where, required=True)
        if not text.strip():
            raise InputError(f"{where}: `query` is blank")
        unknown += [f"{where}: unknown key {key!r} ignored" for key in obj if key not in QUERY_KEYS]
        queries.append(
            Query(text=text, id=obj.get("id"), relevant=_string_list(obj, "relevant", where), where=where)
        )
    _warn_all(log, unknown)
    return queries


def check_out_path(out_path: str | Path) -> Path:
    """``out_path`` if a run can be written there, else :class:`OutputError` naming it. Checked by opening
    it for appending (an existing file is left as it is; one made by the check is removed again), so the
    error comes before minutes of ranking, not after. "-" is refused: stdout holds the metrics object."""
    text = str(out_path)
    if not text.strip():
        raise OutputError("--out: the path is empty")
    if text == "-":
        raise OutputError("--out -: stdout holds the metrics object only; give a file path for the run")
    path = Path(text)
    if path.is_dir():
        raise OutputError(f"--out {text}: is a directory")
    existed = path.exists()
    try:
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise OutputError(f"--out {text}: cannot write: {exc.strerror or exc}") from exc
    if not existed:
        os.unlink(path)
    return path


class _Progress:
    """``progress(done, total)`` for KnowledgeIndex: a line on stderr at most every PROGRESS_SECONDS."""

    def __init__(self, log: Log, what: str) -> None:
        self._log, self._what = log, what
        self._started = self._last = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < PROGRESS_SECONDS:
            return
        self._last = now
        minutes = (now - self._started) / 60
        self._log(f"{self._what}: {done}/{total} ({100 * done // total} %), {minutes:.1f} min so far")


class BaselineBM25:
    """The fixed yardstick: rank-bm25 BM25Okapi defaults over lower-cased word tokens of title + body."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self._ids = [a.id for a in articles]
        corpus = [baseline_tokens(a.title + " " + a.body) for a in articles]
        # rank-bm25 divides by the mean length: with no token in any article (empty or punctuation-only
        # texts) every score is 0, and the ranking is the file order
        self._bm25 = BM25Okapi(corpus) if any(corpus) else None

    def rank(self, query: str, limit: int = CUTOFF) -> list[str]:
        if self._bm25 is None:
            return self._ids[:limit]
        scores = self._bm25.get_scores(baseline_tokens(query))
        order = sorted(range(len(self._ids)), key=lambda i: -scores[i])  # stable: ties by file order
        return [self._ids[i] for i in order[:limit]]


def evaluate(
    articles: Sequence[Article],
    queries: Sequence[Query],
    *,
    encoder: EncoderChoice = "auto",
    out_path: str | Path | None = None,
    log: Log = _stderr,
) -> dict[str, Any]:
    """Rank every query (top 10, filled) with the product ranker and the baseline; the stdout object.

    A query is ranked as its first MAX_QUERY_CHARS characters (as the app cuts it); the run file keeps
    the text as given. ``out_path`` is checked before anything is ranked (:func:`check_out_path`)."""
    out = None if out_path is None else check_out_path(out_path)
    known = {a.id for a in articles}
    _warn_all(
        log,
        [
            f"{q.where or f'query {q.id!r}'}: relevant id {rid!r} is not among the articles (a miss)"
            for q in queries
            for rid in dict.fromkeys(q.relevant or ())
            if rid not in known
        ],
    )
    model = default_encoder() if encoder == "auto" else encoder
    if articles and model is not None:
        log(f"embedding {len(articles)} articles (FIELDLINE_KB_EMBEDDINGS=0 skips this: BM25 only, fast)")
    index = KnowledgeIndex(articles, encoder=model, progress=_Progress(log, "embedding articles"))
    log(f"{len(articles)} articles indexed, ranker mode {index.mode}")
    baseline = BaselineBM25(articles)
    texts = {q.text: q.text[:MAX_QUERY_CHARS] for q in queries}
    if index.mode == "hybrid":
        log(f"embedding {len(set(texts.values()))} distinct queries")
    vectors = index.encode_queries(list(texts.values()))
    cache: dict[str, tuple[list[str], list[str]]] = {}
    ours_runs, base_runs = [], []
    lines = []
    for query in queries:
        text = texts[query.text]
        if text not in cache:  # query texts repeat; rankings are deterministic
            hits = index.rank(text, CUTOFF, fill=True, query_vector=vectors.get(text))
            ranked = [h.article_id for h in hits]
            cache[text] = (ranked, baseline.rank(text))
        ranked, base = cache[text]
        if out_path is not None:
            lines.append(
                json.dumps({"query": query.text, "id": query.id, "ranked": ranked}, ensure_ascii=False)
            )
        if query.relevant is not None:
            relevant = set(query.relevant)
            ours_runs.append((ranked, relevant))
            base_runs.append((base, relevant))
    if out is not None:
        try:
            out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        except OSError as exc:  # checked before ranking, so rare: a full disk, a path removed meanwhile
            raise OutputError(f"--out {out}: cannot write: {exc.strerror or exc}") from exc
    result: dict[str, Any] = {"queries": len(queries), "labelled": len(ours_runs)}
    result.update(summarise(ours_runs))
    result["bm25"] = summarise(base_runs)
    return result
