"""QA round 9: articles without a single word, unwritable --out paths, very long unbroken tokens, progress
on stderr, suspicious query files, --limit below 1 and the help screens.

The command runs in-process (``main([...])``) with FIELDLINE_KB_EMBEDDINGS=0 so rankings are BM25 only
and known by hand; one test runs it as a subprocess, as outside scripts do.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_base import MAX_QUERY_CHARS, Article, KnowledgeIndex
from knowledge_base.__main__ import main
from knowledge_base.evaluate import BaselineBM25, Query, evaluate, read_articles
from knowledge_base.index import EMBED_CHARS, EMBED_UNITS, PROGRESS_STEP, embedded_field, embedded_text
from knowledge_base.textclip import clip
from tests.knowledge_base.kb_fixtures import HashEncoder

ROOT = Path(__file__).resolve().parents[2]
BENCH_SETS = [ROOT / "bench" / "kb_en", ROOT / "bench" / "kb_zh", ROOT / "bench" / "kb_de"]

ARTICLES = [
    {"id": "a1", "title": "Boiler pressure", "body": "Refill via loop."},
    {"id": "a2", "title": "Printer jam", "body": "Open the rear door."},
    {"id": "a3", "title": "Elevator doors", "body": "Clean light curtain."},
]
WORDLESS = [  # no article holds a token: empty, or punctuation only
    Article("e1", "", ""),
    Article("e2", "!!!", "???"),
    Article("e3", "...", ""),
]


@pytest.fixture(autouse=True)
def _bm25_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIELDLINE_KB_EMBEDDINGS", "0")


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _files(tmp_path: Path, queries: list[dict[str, object]]) -> tuple[Path, Path]:
    return _write(tmp_path / "articles.jsonl", ARTICLES), _write(tmp_path / "queries.jsonl", queries)


# -- 1. no article holds a word ---------------------------------------------------------------------------
@pytest.mark.parametrize("encoder", [None, HashEncoder()], ids=["bm25", "hybrid"])
def test_the_index_ranks_articles_without_a_word_instead_of_crashing(encoder: HashEncoder | None) -> None:
    index = KnowledgeIndex(WORDLESS, encoder=encoder)
    for query in ("boiler", "???", ""):
        hits = index.rank(query, 10, fill=True)
        assert [h.article_id for h in hits] == ["e1", "e2", "e3"]  # ties in file order
        assert all(h.lexical_score == 0 for h in hits)
        index.search(query)
        index.suggest(query)
    reloaded = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=encoder)
    assert [h.article_id for h in reloaded.rank("boiler", 10, fill=True)] == ["e1", "e2", "e3"]
    reloaded.upsert(Article("b", "Boiler", "pressure"))  # the first word: BM25 is built again
    assert reloaded.rank("boiler", 10, fill=True)[0].article_id == "b"


def test_an_index_whose_titles_hold_no_word_survives_a_reload() -> None:
    # the title field has no token in any article, the full text has: one BM25 matrix only is saved
    index = KnowledgeIndex([Article("p", "!!!", "boiler pressure"), Article("q", "", "")], encoder=None)
    reloaded = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=None)
    assert [(h.article_id, h.lexical_score > 0) for h in reloaded.rank("boiler", 10, fill=True)] == [
        ("p", True),
        ("q", False),
    ]


def test_the_baseline_ranks_articles_without_a_word_in_file_order() -> None:
    assert BaselineBM25(WORDLESS).rank("boiler") == ["e1", "e2", "e3"]


@pytest.mark.parametrize("row", [{"title": "", "body": ""}, {"title": "!!!", "body": "???"}])
def test_eval_and_search_work_when_no_article_holds_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: dict[str, str]
) -> None:
    articles = _write(tmp_path / "articles.jsonl", [{"id": "a", **row}, {"id": "b", **row}])
    queries = _write(tmp_path / "queries.jsonl", [{"query": "boiler", "relevant": ["b"]}])
    out = tmp_path / "run.jsonl"
    assert main(["eval", "--articles", str(articles), "--queries", str(queries), "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["mrr"] == 0.5 and result["bm25"]["mrr"] == 0.5  # "b" second: file order
    assert json.loads(out.read_text())["ranked"] == ["a", "b"]
    assert main(["search", "--articles", str(articles), "boiler"]) == 0
    assert main(["search", "--articles", str(articles), "???"]) == 0


# -- 2. --out ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["missing-dir", "directory", "empty", "dash"])
def test_an_unwritable_out_path_exits_2_before_ranking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    articles, queries = _files(tmp_path, [{"query": "boiler"}])
    out = {
        "missing-dir": str(tmp_path / "nonexistent" / "dir" / "run.jsonl"),
        "directory": str(tmp_path),
        "empty": "",
        "dash": "-",
    }[where]
    code = main(["eval", "--articles", str(articles), "--queries", str(queries), "--out", out])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    message = captured.err.strip().splitlines()
    assert len(message) == 1 and "--out" in message[0] and out in message[0]
    assert "Traceback" not in captured.err
    assert "indexed" not in captured.err  # refused before any ranking


def test_the_out_check_leaves_no_file_behind_when_the_input_is_bad(tmp_path: Path) -> None:
    articles, queries = _files(tmp_path, [{"query": ""}])
    out = tmp_path / "run.jsonl"
    assert main(["eval", "--articles", str(articles), "--queries", str(queries), "--out", str(out)]) == 2
    assert not out.exists()


# -- 3. long unbroken tokens and long queries -------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "a" * 100_000,
        base64.b64encode(bytes(range(256)) * 560).decode(),  # a pasted image: ~190 000 characters
        "word " * 5 + "x" * 50_000,
        "锅炉故障" * 25_000,
    ],
    ids=["a-run", "base64", "words-then-run", "cjk"],
)
def test_what_the_encoder_reads_is_capped_in_characters(body: str) -> None:
    article = Article("long", "Title " + "t" * 5_000, body, tags=("tag",) * 3)
    assert 0 < len(embedded_text(article)) <= EMBED_CHARS
    assert 0 < len(embedded_field(article)) <= EMBED_CHARS
    encoder = HashEncoder()
    KnowledgeIndex([article], encoder=encoder)
    assert encoder.seen and all(len(text) <= EMBED_CHARS for text in encoder.seen)


def test_the_character_cap_cuts_at_a_space_when_there_is_one() -> None:
    text = ("abcdefghij " * 200).strip()  # 200 units of 11 characters: the unit budget keeps 64 = 703 chars
    assert clip(text, EMBED_UNITS, EMBED_CHARS) == clip(text, EMBED_UNITS)
    clipped = clip(text, 100, 500)
    assert len(clipped) <= 500 and clipped.endswith("abcdefghij") and text.startswith(clipped)


@pytest.mark.parametrize("folder", BENCH_SETS, ids=lambda p: p.name)
def test_the_character_cap_changes_no_benchmark_article(folder: Path) -> None:
    for article in read_articles(folder / "articles.jsonl"):
        assert embedded_text(article) == clip(article.title + "\n" + article.body, EMBED_UNITS)
        assert embedded_field(article) == article.field_text


def test_eval_ranks_a_query_as_its_first_max_query_chars_characters(tmp_path: Path) -> None:
    # "printer" starts after the cap: the app would rank only the x's (no match: file order, a1 first)
    long_query = "x" * (MAX_QUERY_CHARS - 1) + " printer jam"
    articles = [Article(**row) for row in ARTICLES]  # type: ignore[arg-type]
    result = evaluate(articles, [Query(long_query, relevant=("a1",))], encoder=None, log=lambda _: None)
    assert result["recall@1"] == 1.0
    assert MAX_QUERY_CHARS == 2000  # what the app's search box and /kb/search allow


def test_eval_gives_the_encoder_capped_queries() -> None:
    encoder = HashEncoder()
    articles = [Article(**row) for row in ARTICLES]  # type: ignore[arg-type]
    evaluate(articles, [Query("boiler " * 1000)], encoder=encoder, log=lambda _: None)
    assert encoder.queries and all(len(q) <= MAX_QUERY_CHARS for q in encoder.queries)


# -- 4. progress ------------------------------------------------------------------------------------------
def test_embedding_reports_progress_and_the_steps_change_no_vector() -> None:
    articles = [
        Article(f"a{i}", f"title {i}", f"body words {i} {i % 7}") for i in range(2 * PROGRESS_STEP + 7)
    ]
    calls: list[tuple[int, int]] = []
    stepped = KnowledgeIndex(articles, encoder=HashEncoder(), progress=lambda d, t: calls.append((d, t)))
    total = len(articles)
    assert calls == [(PROGRESS_STEP, total), (2 * PROGRESS_STEP, total), (total, total)]
    whole = KnowledgeIndex(articles, encoder=HashEncoder())
    for article in articles:
        assert np.array_equal(stepped._vectors[article.id], whole._vectors[article.id])


def test_eval_prints_embedding_progress_to_stderr() -> None:
    lines: list[str] = []
    articles = [Article(f"a{i}", f"title {i}", "body") for i in range(PROGRESS_STEP + 1)]
    evaluate(articles, [Query("title")], encoder=HashEncoder(), log=lines.append)
    assert any(
        line.startswith(f"embedding articles: {len(articles)}/{len(articles)} (100 %)") for line in lines
    )
    assert any("FIELDLINE_KB_EMBEDDINGS=0" in line for line in lines)


def test_eval_help_names_the_bm25_only_switch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "FIELDLINE_KB_EMBEDDINGS=0" in capsys.readouterr().out


# -- 5. suspicious query files ----------------------------------------------------------------------------
def test_unknown_relevant_ids_and_query_keys_are_warned_about_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = [{"query": "printer jam", "relevant": ["a2"]}, {"query": "boiler", "relevant": ["zz"]}]
    articles, queries = _files(tmp_path, clean)
    assert main(["eval", "--articles", str(articles), "--queries", str(queries)]) == 0
    captured = capsys.readouterr()
    assert f"{queries}:2: relevant id 'zz' is not among the articles" in captured.err
    metrics = json.loads(captured.out)

    odd = [{"query": "printer jam", "relevant": ["a2"], "relevnt": ["a1"]}, clean[1]]
    articles, queries = _files(tmp_path, odd)
    assert main(["eval", "--articles", str(articles), "--queries", str(queries)]) == 0
    captured = capsys.readouterr()
    assert f"{queries}:1: unknown key 'relevnt' ignored" in captured.err
    assert json.loads(captured.out) == metrics  # warnings change no metric


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_query_exits_2_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], blank: str
) -> None:
    articles, queries = _files(tmp_path, [{"query": "boiler"}, {"query": blank, "relevant": ["a1"]}])
    assert main(["eval", "--articles", str(articles), "--queries", str(queries)]) == 2
    assert f"{queries}:2: `query` is blank" in capsys.readouterr().err


# -- 6. search --limit, help screens ----------------------------------------------------------------------
@pytest.mark.parametrize("limit", ["0", "-1", "two"])
def test_search_refuses_a_limit_below_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    articles, _ = _files(tmp_path, [])
    with pytest.raises(SystemExit) as exit_:
        main(["search", "--articles", str(articles), "--limit", limit, "boiler"])
    assert exit_.value.code == 2
    assert "--limit" in capsys.readouterr().err


HELP_LINES = {  # lines each screen must show whole (argparse's default formatter ran them together)
    "main": [
        "python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl [--out RUN.jsonl]",
        'python -m knowledge_base search --articles A.jsonl "query" [--limit 5]',
    ],
    "eval": [
        "  python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl --out run.jsonl > metrics.json",
        "  FIELDLINE_KB_EMBEDDINGS=0 python -m knowledge_base eval --articles A.jsonl --queries Q.jsonl",
    ],
    "search": [
        '  python -m knowledge_base search --articles A.jsonl --limit 10 "F28 故障"',
        '  FIELDLINE_KB_EMBEDDINGS=0 python -m knowledge_base search --articles A.jsonl "pump noise"',
    ],
}


@pytest.mark.parametrize("screen", list(HELP_LINES))
def test_help_screens_keep_their_example_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, screen: str
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit):
        main([*([] if screen == "main" else [screen]), "--help"])
    lines = capsys.readouterr().out.splitlines()
    for expected in HELP_LINES[screen]:
        assert expected in lines


def test_the_contract_as_a_subprocess(tmp_path: Path) -> None:
    articles = _write(tmp_path / "articles.jsonl", [{"id": "a", "title": "!!!", "body": ""}])
    queries = _write(tmp_path / "queries.jsonl", [{"query": "boiler", "relevant": ["a"]}])
    env = {**os.environ, "FIELDLINE_KB_EMBEDDINGS": "0", "PYTHONPATH": str(ROOT)}
    base = [
        sys.executable,
        "-m",
        "knowledge_base",
        "eval",
        "--articles",
        str(articles),
        "--queries",
        str(queries),
    ]
    ok = subprocess.run(base, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert ok.returncode == 0 and json.loads(ok.stdout)["mrr"] == 1.0
    bad = subprocess.run(
        [*base, "--out", "/nonexistent/dir/run.jsonl"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "knowledge_base: --out /nonexistent/dir/run.jsonl: cannot write: No such file or directory"
    ]
