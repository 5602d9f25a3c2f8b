"""`fieldline kb import/export`: upsert by external id, defaults, bad lines by number, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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


def _export(tmp_path: Path, name: str) -> Path:
    out = tmp_path / name
    result = runner.invoke(cli, ["kb", "export", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_articles_written_in_the_app_survive_an_export_and_import_unchanged(
    db: Session, tmp_path: Path
) -> None:
    """QA: export then import made copies of the editor's articles (no external id), with external
    ids "27", "28" …, and the next export held those ids twice. Export names them by this database and
    their number, and import finds them again: nothing is created, the next export is the same."""
    from app.knowledge import articles
    from app.knowledge.index import read_state

    user = f.make_user(db, role="agent", email="editor@kb.example")
    written = [
        articles.create_article(
            db, values={"title": title, "body": "Check it.", "status": status}, actor=user
        )
        for title, status in (("Lift door stuck", "published"), ("Pump noise", "draft"))
    ]
    db.commit()
    imported = _file(tmp_path, [{"id": "crm-1", "title": "Boiler F28", "body": "Reset it."}])
    assert runner.invoke(cli, ["kb", "import", str(imported), "--as", "editor@kb.example"]).exit_code == 0

    first = _export(tmp_path, "first.jsonl")
    token = read_state(db)[1][:8]
    ids = [json.loads(line)["id"] for line in first.read_text(encoding="utf-8").splitlines()]
    assert ids == [f"fieldline-{token}-{written[0].id}", f"fieldline-{token}-{written[1].id}", "crm-1"]
    result = runner.invoke(cli, ["kb", "import", str(first), "--as", "editor@kb.example"])
    assert result.exit_code == 0, result.output
    assert "0 created, 0 updated, 3 unchanged" in " ".join(result.output.split())
    assert _count(db) == 3
    assert _export(tmp_path, "second.jsonl").read_bytes() == first.read_bytes()

    # an edited export updates the article it came from, which keeps having no external id
    lines = first.read_text(encoding="utf-8").splitlines()
    edited = {**json.loads(lines[0]), "title": "Lift door does not close"}
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, [edited])), "--as", "editor@kb.example"])
    assert result.exit_code == 0 and "1 updated" in result.output, result.output
    db.expire_all()
    lift = db.get(KbArticle, written[0].id)
    assert lift is not None and lift.title == "Lift door does not close" and lift.external_id is None
    assert _count(db) == 3


def test_an_older_export_finds_its_articles_and_another_database_s_ids_make_new_ones(
    db: Session, tmp_path: Path
) -> None:
    """Exports made before wrote an app-written article's bare number: it updates that article when
    the title is the same (not a copy); a bare number under another title may be another system's id,
    and another database's own ids name articles that are not these: both create."""
    from app.knowledge import articles

    user = f.make_user(db, role="agent", email="old-export@kb.example")
    lift = articles.create_article(
        db, values={"title": "Lift door stuck", "body": "Clean the sill.", "status": "published"}, actor=user
    )
    db.commit()
    old = {"id": str(lift.id), "title": "Lift door stuck", "body": "Clean the sill.", "status": "published"}
    result = runner.invoke(
        cli, ["kb", "import", str(_file(tmp_path, [old])), "--as", "old-export@kb.example"]
    )
    assert result.exit_code == 0 and "1 unchanged" in result.output, result.output
    assert _count(db) == 1

    foreign = [
        {"id": str(lift.id), "title": "Another system's article", "body": "x"},
        {"id": f"fieldline-00000000-{lift.id}", "title": "Lift door stuck", "body": "elsewhere"},
    ]
    result = runner.invoke(
        cli, ["kb", "import", str(_file(tmp_path, foreign)), "--as", "old-export@kb.example"]
    )
    assert result.exit_code == 0 and "2 created" in result.output, result.output
    db.expire_all()
    assert db.get(KbArticle, lift.id).body == "Clean the sill."  # type: ignore[union-attr]
    # and such an imported id stays that article's, whatever this database exports for its own
    again = _file(
        tmp_path, [{"id": f"fieldline-00000000-{lift.id}", "title": "Lift door stuck", "body": "v2"}]
    )
    result = runner.invoke(cli, ["kb", "import", str(again), "--as", "old-export@kb.example"])
    assert result.exit_code == 0 and "1 updated" in result.output, result.output
    assert _count(db) == 3


def test_two_lines_naming_one_article_are_refused(db: Session, tmp_path: Path) -> None:
    from app.knowledge import articles
    from app.knowledge.index import read_state
    from app.knowledge.jsonl import own_id

    user = f.make_user(db, role="agent", email="twice@kb.example")
    pump = articles.create_article(db, values={"title": "Pump noise", "body": "x"}, actor=user)
    db.commit()
    lines = [
        {"id": own_id(read_state(db)[1], pump.id), "title": "Pump noise", "body": "one"},
        {"id": str(pump.id), "title": "Pump noise", "body": "two"},
    ]
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, lines)), "--as", "twice@kb.example"])
    assert result.exit_code == 1
    assert any(r.startswith("│ 2 ") and "same article" in r for r in result.output.splitlines()), (
        result.output
    )
    db.expire_all()
    assert db.get(KbArticle, pump.id).body == "x"  # type: ignore[union-attr]


def _rows(output: str) -> list[str]:
    return [" ".join(r.split()) for r in output.splitlines() if r.startswith("│")]


def test_a_line_the_api_would_refuse_is_a_bad_line_named_by_field(db: Session, tmp_path: Path) -> None:
    """QA: a fault code "???" passed the line check and the save's 422 ended in a KeyError traceback;
    a 500-character tag was imported. Every such line is named by number and field, exit 1, nothing
    imported."""
    f.make_user(db, role="agent", email="rules@kb.example")
    db.commit()
    lines = [
        {"id": "QC-0", "title": "fine", "body": "y"},
        {"id": "QC-1", "title": "x", "body": "y", "fault_codes": ["???"]},
        {"id": "QC-2", "title": "x", "body": "y", "tags": ["t" * 101]},
        {"id": "QC-3", "title": "x", "body": "y", "resolution_steps": ["s" * 2001]},
        {"id": "QC-4", "title": "x", "body": "y", "tags": [f"t{i}" for i in range(51)]},
        {"id": "QC-5", "title": "t" * 301, "body": "y", "language": None},
        {"id": "QC-6", "title": "   ", "body": "y"},
        {"id": "QC-7", "title": "x", "body": "y", "tags": None},
    ]
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, lines)), "--as", "rules@kb.example"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    rows = _rows(result.output)
    for line, field in (
        (2, "fault_codes"),
        (3, "tags"),
        (4, "resolution_steps"),
        (5, "tags"),
        (6, "title"),
        (7, "title"),
        (8, "tags"),
    ):
        assert any(r.startswith(f"│ {line} │ {field} │") for r in rows), (line, field, rows)
    assert not any(r.startswith("│ 1 ") for r in rows)
    assert "the first is line 2" in " ".join(result.output.split())
    assert _count(db) == 0

    # steps and tags at the limits are fine
    ok = {"id": "QC-8", "title": "x", "body": "y", "tags": ["t" * 100], "resolution_steps": ["s" * 2000]}
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, [ok])), "--as", "rules@kb.example"])
    assert result.exit_code == 0, result.output


def test_a_save_refusing_a_line_is_reported_with_its_line(
    db: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should the save refuse what the checks let through, the line is named, never a traceback."""
    from app.knowledge import jsonl

    f.make_user(db, role="agent", email="save@kb.example")
    db.commit()
    monkeypatch.setattr(jsonl, "check_fields", lambda session, values, catalogue: (values, []), raising=False)
    lines = [
        {"id": "S-1", "title": "ok", "body": "y"},
        {"id": "S-2", "title": "x", "body": "y", "fault_codes": ["???"]},
    ]
    result = runner.invoke(cli, ["kb", "import", str(_file(tmp_path, lines)), "--as", "save@kb.example"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert any(r.startswith("│ 2 │ fault_codes │") for r in _rows(result.output)), result.output
    assert _count(db) == 0


@pytest.mark.parametrize(
    ("role", "active", "said"),
    [
        ("engineer", True, "only agents, managers and admins write articles"),
        ("dispatcher", True, "only agents, managers and admins write articles"),
        ("agent", False, "is deactivated"),
    ],
)
def test_import_refuses_an_author_who_cannot_write(
    db: Session, tmp_path: Path, role: str, active: bool, said: str
) -> None:
    f.make_user(db, role=role, email=f"{role}-author@kb.example", is_active=active)
    db.commit()
    path = _file(tmp_path, [{"id": "a-1", "title": "x", "body": "y"}])
    result = runner.invoke(cli, ["kb", "import", str(path), "--as", f"{role}-author@kb.example"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert said in " ".join(result.output.split())
    assert _count(db) == 0


def test_export_to_a_folder_that_does_not_exist_is_a_readable_error(tmp_path: Path) -> None:
    for target, why in ((tmp_path / "nonexistent" / "x.jsonl", "No such file"), (tmp_path, "Is a directory")):
        result = runner.invoke(cli, ["kb", "export", str(target)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        out = " ".join(result.output.split())
        assert out.startswith("error: cannot write") and why in out and "Traceback" not in out, out
