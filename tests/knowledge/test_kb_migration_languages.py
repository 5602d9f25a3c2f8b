"""Migration 0026 on articles saved before German, French, … were detected: a German text stored as
"en" becomes "de" (a version, an audit entry, the article-set version and its change log, so the
index finds it with lang=de); English, Chinese and French articles keep theirs, and so does an
article whose history shows "en" chosen. ``fieldline kb redetect-languages`` runs the same function."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import cli
from app.knowledge import articles, search
from app.knowledge.index import PERSIST_TASK, IndexCache, read_version
from app.models import AuditLog, KbArticle, KbArticleVersion, KbChange, OutboxMessage, User
from tests import factories as f

MIGRATION = Path(__file__).parents[2] / "alembic" / "versions" / "2026-12-07_kb_languages_detected.py"

GERMAN = {
    "title": "Wärmepumpe meldet Fehler F75",
    "symptom": "Die Anlage schaltet nach wenigen Minuten ab, der Volumenstrom ist zu gering.",
    "body": "Den Schmutzfilter im Rücklauf reinigen und prüfen, ob die Umwälzpumpe läuft.",
}
ENGLISH = {
    "title": "Heat pump shows fault F75",
    "symptom": "The unit switches off after a few minutes because the flow rate is too low.",
    "body": "Clean the strainer in the return line and check that the circulation pump runs.",
}
CHINESE = {
    "title": "热泵显示故障 F75",
    "symptom": "机组运行几分钟后停机，水流量太低。",
    "body": "清洗回水过滤器，检查循环泵是否运转。",
}
FRENCH = {
    "title": "La pompe à chaleur affiche le défaut F75",
    "symptom": "L'appareil s'arrête après quelques minutes, le débit d'eau est trop faible.",
    "body": "Nettoyer le filtre du retour et vérifier que le circulateur fonctionne.",
}


def _module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0026", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _upgrade(db: Session) -> None:
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    with Operations.context(MigrationContext.configure(db.connection())):
        _module().upgrade()


def _saved_before(db: Session, author: User, text: dict[str, str], language: str) -> KbArticle:
    """An article as the app stored it before 2026-12-06: its language given (or defaulted) once."""
    return articles.create_article(
        db, values={**text, "language": language, "status": "published"}, actor=author
    )


def _ids(db: Session, query: str, lang: str) -> set[int]:
    return {found.article.id for found in search.search(db, query, lang=lang)}


def _count(db: Session, model: type, *where: ColumnElement[bool]) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_0026_gives_a_german_article_stored_as_english_its_language(
    db: Session, kb_cache: IndexCache
) -> None:
    author = f.make_user(db, role="agent")
    german = _saved_before(db, author, GERMAN, "en")
    english = _saved_before(db, author, ENGLISH, "en")
    chinese = _saved_before(db, author, CHINESE, "zh")
    french = _saved_before(db, author, FRENCH, "fr")
    # Chinese text under "en": the Chinese rule is unchanged, so "en" was someone's choice.
    chinese_as_english = _saved_before(db, author, {**CHINESE, "title": "热泵故障 E4"}, "en")
    # German text whose author changed it to "en" after saving: chosen, whatever the text says.
    chosen = _saved_before(db, author, {**GERMAN, "title": "Wärmepumpe F75 (Kunde englisch)"}, "de")
    articles.update_article(db, chosen, values={"language": "en"}, actor=author)
    db.flush()
    # what users see now: found under English, not under German
    assert german.id in _ids(db, "Wärmepumpe Volumenstrom", "en")
    assert german.id not in _ids(db, "Wärmepumpe Volumenstrom", "de")
    before = read_version(db)
    versions_before = german.version
    persists = _count(db, OutboxMessage, OutboxMessage.task == PERSIST_TASK)

    _upgrade(db)
    db.expire_all()

    language = {a.id: a.language for a in db.scalars(select(KbArticle))}
    assert language[german.id] == "de"
    assert language[english.id] == "en"
    assert language[chinese.id] == "zh"
    assert language[french.id] == "fr"
    assert language[chinese_as_english.id] == "en"
    assert language[chosen.id] == "en"
    # recorded as an edit records it: the edit version, a version snapshot, the audit log
    assert db.get(KbArticle, german.id).version == versions_before + 1  # type: ignore[union-attr]
    newest = articles.versions(db, db.get(KbArticle, german.id))[0]  # type: ignore[arg-type]
    assert (newest.number, newest.action, newest.changed, newest.actor_id) == (
        2,
        "detected",
        ["language"],
        None,
    )
    assert newest.snapshot["language"] == "de" and newest.snapshot["title"] == GERMAN["title"]
    assert _count(db, KbArticleVersion, KbArticleVersion.article_id == english.id) == 1
    audit = db.scalars(
        select(AuditLog).where(AuditLog.entity == "kb_article", AuditLog.entity_id == german.id)
    ).all()
    assert [a.changes for a in audit if a.action == "detected"] == [{"language": ["en", "de"]}]
    # the index notices: one article-set version for the one article, logged; a persist asked for
    assert read_version(db) == before + 1
    assert db.scalar(select(KbChange.article_id).where(KbChange.seq == before + 1)) == german.id
    assert _count(db, OutboxMessage, OutboxMessage.task == PERSIST_TASK) == persists + 1
    assert german.id in _ids(db, "Wärmepumpe Volumenstrom", "de")
    assert german.id not in _ids(db, "Wärmepumpe Volumenstrom", "en")

    _upgrade(db)  # again: nothing left to change
    assert read_version(db) == before + 1


def test_articles_are_read_in_batches(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    author = f.make_user(db, role="agent")
    made = [
        _saved_before(db, author, {**(GERMAN if i % 2 else ENGLISH), "title": f"{title} {i}"}, "en")
        for i, title in enumerate(["Störung", "Fault", "Störung", "Fault", "Störung"])
    ]
    module = _module()
    monkeypatch.setattr(module, "BATCH", 2)
    first = module.redetect_languages(db.connection(), after_id=made[0].id - 1, limit=2)
    assert first.read == 2 and first.next_after == made[1].id
    assert [d.article_id for d in first.changed] == [made[1].id]
    rest = module.redetect_languages(db.connection(), after_id=first.next_after)
    assert rest.read == 3 and rest.next_after is None
    assert [d.article_id for d in rest.changed] == [made[3].id]
    db.expire_all()
    assert [db.get(KbArticle, a.id).language for a in made] == ["en", "de", "en", "de", "en"]  # type: ignore[union-attr]


def test_cli_dry_run_lists_and_the_run_changes(db: Session) -> None:
    author = f.make_user(db, role="agent")
    german = _saved_before(db, author, GERMAN, "en")
    english = _saved_before(db, author, ENGLISH, "en")
    chosen = _saved_before(db, author, {**GERMAN, "title": "[Kunde] Wärmepumpe F75"}, "de")
    articles.update_article(db, chosen, values={"language": "en"}, actor=author)
    db.commit()
    before = read_version(db)

    dry = CliRunner().invoke(cli, ["kb", "redetect-languages", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"#{german.id} en → de: {GERMAN['title']}" in dry.output
    assert f"#{chosen.id} en kept (chosen in its history; reads as de): [Kunde]" in dry.output
    assert "3 articles in English checked: 1 would change, 1 kept as chosen" in dry.output
    db.expire_all()
    assert db.get(KbArticle, german.id).language == "en"  # type: ignore[union-attr]
    assert read_version(db) == before

    run = CliRunner().invoke(cli, ["kb", "redetect-languages"])
    assert run.exit_code == 0, run.output
    assert "3 articles in English checked: 1 changed, 1 kept as chosen" in run.output
    db.expire_all()
    assert db.get(KbArticle, german.id).language == "de"  # type: ignore[union-attr]
    assert db.get(KbArticle, english.id).language == "en"  # type: ignore[union-attr]
    assert read_version(db) == before + 1
