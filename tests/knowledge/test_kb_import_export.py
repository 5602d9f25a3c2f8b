"""`fieldline kb import/export`: upsert by external id, defaults, bad lines by number, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.knowledge import search
from app.models import KbArticle, KbArticleVersion
from tests import factories as f

runner = CliRunner()


def _file(tmp_path: Path, lines: list[object]) -> Path:
    path = tmp_path / "articles.jsonl"
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


def _count(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(KbArticle)) or 0)


def test_import_defaults_upsert_and_export_round_trip(db: Session, tmp_path: Path) -> None:
    user = f.make_user(db, role="agent", email="writer@kb.example")
    db.commit()
    path = _file(
        tmp_path,
        [
            {
                "id": "faq-1",
                "title": "Heat pump F.75",
                "body": "Refill to **1.5 bar**.",
                "tags": ["heat pump"],
            },
            {
                "id": "faq-2",
                "title": "热泵不制热",
                "body": "请补水。",
                "status": "draft",
                "visibility": "customer",
            },
            {"id": "faq-3", "title": "Lift door", "body": "Clean the sill.", "extra": "ignored"},
        ],
    )
    result = runner.invoke(cli, ["kb", "import", str(path), "--as", "writer@kb.example"])
    assert result.exit_code == 0, result.output
    assert "3 created" in result.output
    rows = {a.external_id: a for a in db.scalars(select(KbArticle))}
    one, two = rows["faq-1"], rows["faq-2"]
    assert (one.status, one.visibility, one.language, one.author_id) == (
        "published",
        "internal",
        "en",
        user.id,
    )
    assert (two.status, two.visibility, two.language) == ("draft", "customer", "zh")
    assert [x.article.id for x in search.search(db, "heat pump")] == [one.id]

    # the same ids again: updated in place, only the fields given
    again = _file(
        tmp_path, [{"id": "faq-1", "title": "Heat pump shows F.75", "body": "Refill to **1.5 bar**."}]
    )
    result = runner.invoke(cli, ["kb", "import", str(again), "--as", "writer@kb.example"])
    assert result.exit_code == 0 and "1 updated" in result.output, result.output
    db.expire_all()
    assert _count(db) == 3 and db.get(KbArticle, one.id).title == "Heat pump shows F.75"  # type: ignore[union-attr]
    history = db.scalars(select(KbArticleVersion.action).where(KbArticleVersion.article_id == one.id)).all()
    assert sorted(history) == ["imported", "imported"]

    out = tmp_path / "out.jsonl"
    result = runner.invoke(cli, ["kb", "export", str(out)])
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["id"] for e in exported] == ["faq-1", "faq-2", "faq-3"]
    assert exported[1]["title"] == "热泵不制热" and exported[1]["status"] == "draft"
    # exporting and importing again changes nothing
    result = runner.invoke(cli, ["kb", "import", str(out), "--as", "writer@kb.example"])
    assert result.exit_code == 0 and "3 unchanged" in result.output, result.output


def test_bad_lines_are_reported_by_number_and_nothing_is_imported(db: Session, tmp_path: Path) -> None:
    f.make_user(db, role="agent", email="writer2@kb.example")
    db.commit()
    path = _file(
        tmp_path,
        [
            {"id": "ok-1", "title": "Fine", "body": "fine"},
            "{not json",
            {"id": "ok-2", "body": "no title"},
            "",  # blank lines are skipped, but still counted
            {"id": 7, "title": "numeric id", "body": "x"},
            {"id": "ok-3", "title": "bad status", "body": "x", "status": "live", "tags": "a"},
            {"id": "ok-1", "title": "repeat", "body": "x"},
            ["an", "array"],
            {"id": "ok-4", "title": "Fine too", "body": "fine"},
        ],
    )
    before = _count(db)
    result = runner.invoke(cli, ["kb", "import", str(path), "--as", "writer2@kb.example"])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "Nothing was imported" in out and "the first is line 2" in out
    for line, words in (
        (2, "not valid JSON"),
        (3, "title"),
        (5, "must be a string"),
        (6, "status"),
        (6, "tags"),
        (7, "repeats the id of line 1"),
        (8, "JSON object"),
    ):
        assert any(r.startswith(f"│ {line} ") and words in r for r in result.output.splitlines()), (
            line,
            words,
        )
    assert _count(db) == before  # not even the good lines


def test_import_refuses_an_unknown_user_and_a_missing_file(db: Session, tmp_path: Path) -> None:
    path = _file(tmp_path, [{"id": "x", "title": "x", "body": "x"}])
    result = runner.invoke(cli, ["kb", "import", str(path), "--as", "nobody@kb.example"])
    assert result.exit_code == 1 and "no user" in result.output
    result = runner.invoke(
        cli, ["kb", "import", str(tmp_path / "missing.jsonl"), "--as", "nobody@kb.example"]
    )
    assert result.exit_code == 1 and "no such file" in result.output
    assert _count(db) == 0


def test_an_unknown_model_code_is_a_bad_line_and_nothing_is_imported(db: Session, tmp_path: Path) -> None:
    f.make_user(db, role="agent", email="writer3@kb.example")
    f.make_product_model(db, code="XR-500")
    db.commit()
    lines = [
        {"id": "m-1", "title": "Known, typed loosely", "body": "x", "product_models": ["xr 500"]},
        {"id": "m-2", "title": "Typo", "body": "x", "product_models": ["XR-500", "XR-50O"]},
        {"id": "m-3", "title": "German", "body": "Druck prüfen.", "language": "de"},
    ]
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, lines)), "--as", "writer3@kb.example"])
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "Nothing was imported" in out and "the first is line 2" in out
    assert "XR-50O: no product model has this code (did you mean XR-500?)" in out
    assert _count(db) == 0

    del lines[1]
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, lines)), "--as", "writer3@kb.example"])
    assert result.exit_code == 0, result.output
    rows = {a.external_id: a for a in db.scalars(select(KbArticle))}
    assert rows["m-1"].product_models == ["XR-500"]  # stored as the catalogue spells it
    assert rows["m-3"].language == "de"


def test_a_file_saved_with_a_byte_order_mark_imports(db: Session, tmp_path: Path) -> None:
    """Windows tools often start UTF-8 files with a BOM: the first line is still an article."""
    f.make_user(db, role="agent", email="writer-bom@kb.example")
    db.commit()
    path = _file(tmp_path, [{"id": "bom-1", "title": "Pumpe läuft nicht", "body": "Sicherung prüfen."}])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = runner.invoke(cli, ["kb", "import", str(path), "--as", "writer-bom@kb.example"])
    assert result.exit_code == 0, result.output
    article = db.scalar(select(KbArticle).where(KbArticle.external_id == "bom-1"))
    assert article is not None and article.title == "Pumpe läuft nicht"
