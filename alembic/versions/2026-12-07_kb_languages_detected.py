"""Knowledge articles stored as "en" before German, French, … were detected get their language

Until 2026-12-06 ``detect_language`` knew "en" and "zh" only, and "en" and "zh" were the only
languages an author could choose: a German, French, Spanish, Italian or Dutch article saved then
carries "en", so ``lang=de`` misses it and a German ticket's suggestions do not put it first.

What tells a defaulted language from a chosen one. Nothing records whether a language was given: the
column has no flag, the editor, the API and a JSONL import store a detected and a chosen language
alike, and the first version's snapshot and ``changed`` list every field either way. So the rule:

- only articles whose language is "en" are looked at;
- their text — title + symptom + body joined by spaces, as the create path detects
  (``app.knowledge.articles.normalise``) — must be detected, by the same ``detect_language``, as
  German, French, Spanish, Italian or Dutch (``NEW_LANGUAGES``), which needs py3langid's confidence
  (>= 0.5, ``LANGUAGE_CONFIDENCE``): too short or mixed text stays "en". An author does not label a
  German text English on purpose: before the change "en" was the only Latin language on offer.
- "zh" is not among them: the Chinese rule (>= 20 % CJK letters) has not changed, so an "en" article
  that reads as Chinese was detected "zh" then too, and "en" is what someone chose for it;
- an article whose history shows the language set after its creation (a version other than its first,
  not this migration's, that lists "language" among the changed fields: an edit, an import update
  or a restore) keeps its language: that was chosen, whatever the text looks like.

Each changed article is changed as an edit changes it (``app.knowledge.articles.update_article``):
``language`` set, its edit ``version`` + 1 (an editor form opened before answers 409 instead of
saving "en" back) and ``updated_at``; a new ``kb_article_version`` (action ``detected``, no actor,
changed ``["language"]``, the snapshot of the fields after it) and an ``audit_log`` entry
(``{"language": ["en", "de"]}``). The article-set version goes up by one per article and each gets
its ``kb_change`` row, so every web and worker process catches up on its next search (the rows
``app.knowledge.index.mark_changed`` writes); one ``outbox_message`` asks a worker to persist the
index once the migration has committed (the drain sends it within ~15 s).

Articles are read 200 at a time (ids, text and edit version; no other bodies in memory); only the
detected ones' history is read. ``fieldline kb redetect-languages [--dry-run]`` runs the same
``redetect_languages`` on demand, a transaction per batch. The downgrade changes nothing back: the
history says what was detected, and an author can change or restore it.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 01:00:00
"""

import importlib.util
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from alembic import op

# The library's own detection, called, not copied: the rule is "what saving this article without a
# language gives", and that is this function (app.knowledge.articles calls it on create). The library
# imports nothing from app/ and reads no database; should its detection improve later, a database that
# migrates through here later gets the later answer — the one its create path gives then too. Only an
# answer in NEW_LANGUAGES changes anything, so a future language the library adds is not applied here.
from knowledge_base import detect_language

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 200  # articles read at a time: a body may be up to 200 000 characters
OLD_LANGUAGE = "en"
NEW_LANGUAGES = ("de", "fr", "es", "it", "nl")  # what the 2026-12-06 detection added (not "zh")
ACTION = "detected"  # the version's action (String(20)); the history page shows "Detected: Language"
PERSIST_TASK = "fieldline.kb.persist_index"  # app.knowledge.index.PERSIST_TASK at this revision
# The fields a version snapshots at this revision (app.knowledge.articles.FIELDS), frozen here.
FIELDS = (
    "title",
    "symptom",
    "body",
    "resolution_steps",
    "product_models",
    "fault_codes",
    "tags",
    "language",
    "status",
    "visibility",
)

# The tables as they are at this revision: only the columns used.
article = sa.table(
    "kb_article",
    sa.column("id", sa.Integer),
    sa.column("title", sa.String),
    sa.column("symptom", sa.Text),
    sa.column("body", sa.Text),
    sa.column("resolution_steps", sa.JSON),
    sa.column("product_models", sa.JSON),
    sa.column("fault_codes", sa.JSON),
    sa.column("tags", sa.JSON),
    sa.column("language", sa.String),
    sa.column("status", sa.String),
    sa.column("visibility", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("version", sa.Integer),
)
article_version = sa.table(
    "kb_article_version",
    sa.column("article_id", sa.Integer),
    sa.column("number", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("changed", sa.JSON),
    sa.column("snapshot", sa.JSON),
)
index_state = sa.table(
    "kb_index_state",
    sa.column("id", sa.Integer),
    sa.column("version", sa.Integer),
    sa.column("database_token", sa.String),
)
change = sa.table(
    "kb_change",
    sa.column("seq", sa.Integer),
    sa.column("article_id", sa.Integer),
    sa.column("at", sa.DateTime(timezone=True)),
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("user_id", sa.Integer),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("changes", sa.JSON),
)
outbox = sa.table(
    "outbox_message",
    sa.column("task", sa.String),
    sa.column("kwargs", sa.JSON),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("attempts", sa.Integer),
)


@dataclass(frozen=True)
class Detected:
    article_id: int
    title: str
    language: str  # the detected one; the article had OLD_LANGUAGE


@dataclass
class Result:
    changed: list[Detected] = field(default_factory=list)  # (dry run: would change)
    read: int = 0  # "en" articles whose text was detected
    kept_as_chosen: list[Detected] = field(default_factory=list)  # their history sets the language
    next_after: int | None = None  # the last id read when stopped at ``limit``; None: all were read


def redetect_languages(
    conn: Connection, *, dry_run: bool = False, after_id: int = 0, limit: int | None = None
) -> Result:
    """Give the "en" articles with id > ``after_id`` whose text reads as another language (the rule
    in the module's docstring) that language, ``BATCH`` at a time; stop after ``limit`` articles
    read (``next_after`` says where to go on), or at the end. ``dry_run``: write nothing, only say."""
    result = Result()
    _run(conn, result, dry_run=dry_run, after_id=after_id, limit=limit)
    if result.changed and not dry_run:  # one persist for the transaction, as mark_changed asks
        now = datetime.now(UTC)
        conn.execute(sa.insert(outbox).values(task=PERSIST_TASK, kwargs={}, created_at=now, attempts=0))
    return result


def _run(conn: Connection, result: Result, *, dry_run: bool, after_id: int, limit: int | None) -> None:
    checked = False
    while limit is None or result.read < limit:
        size = BATCH if limit is None else min(BATCH, limit - result.read)
        rows = conn.execute(
            sa.select(article.c.id, article.c.title, article.c.symptom, article.c.body, article.c.version)
            .where(article.c.language == OLD_LANGUAGE, article.c.id > after_id)
            .order_by(article.c.id)
            .limit(size)
        ).all()
        if not rows:
            return
        if not checked:
            _require_identifier()
            checked = True
        result.read += len(rows)
        after_id = rows[-1].id
        found: dict[int, tuple[Detected, int]] = {}
        for row in rows:
            language = detect_language(" ".join([row.title or "", row.symptom or "", row.body or ""]))
            if language in NEW_LANGUAGES:
                found[row.id] = (Detected(row.id, row.title, language), row.version)
        chosen = _language_chosen(conn, list(found))
        result.kept_as_chosen.extend(found[i][0] for i in sorted(chosen))
        todo = [found[i] for i in sorted(found) if i not in chosen]
        if dry_run:
            result.changed.extend(detected for detected, _ in todo)
        else:
            result.changed.extend(_apply(conn, todo))
        if len(rows) < size:
            return
    result.next_after = after_id


def _require_identifier() -> None:
    # Without py3langid detect_language answers "en" for every Latin text: nothing would change and
    # the migration would pass as done. It is a dependency of the project: say so instead.
    if importlib.util.find_spec("py3langid") is None:
        raise RuntimeError(
            "py3langid is not installed (a dependency of fieldline): without it no language can be "
            "detected. Install the project's dependencies and run the migration again."
        )


def _language_chosen(conn: Connection, ids: list[int]) -> set[int]:
    """The articles among ``ids`` whose language was set after their creation (see the docstring)."""
    if not ids:
        return set()
    first: set[int] = set()
    chosen: set[int] = set()
    for article_id, action, changed in conn.execute(
        sa.select(article_version.c.article_id, article_version.c.action, article_version.c.changed)
        .where(article_version.c.article_id.in_(ids))
        .order_by(article_version.c.article_id, article_version.c.number)
    ):
        if article_id not in first:  # its creation lists every field, given or not
            first.add(article_id)
        elif action != ACTION and "language" in (changed or []):
            chosen.add(article_id)
    return chosen


def _apply(conn: Connection, todo: list[tuple[Detected, int]]) -> list[Detected]:
    """Change each article (unless it was edited since it was read) as an edit does, and log the
    changes for the index."""
    now = datetime.now(UTC)
    done: list[Detected] = []
    for detected, version in todo:
        updated = conn.execute(
            sa.update(article)
            .where(
                article.c.id == detected.article_id,
                article.c.version == version,  # an edit in between: left for a later run
                article.c.language == OLD_LANGUAGE,
            )
            .values(language=detected.language, version=article.c.version + 1, updated_at=now)
        )
        if updated.rowcount == 1:
            done.append(detected)
    if not done:
        return done
    ids = [d.article_id for d in done]
    numbers: dict[int, int] = {
        article_id: number or 0
        for article_id, number in conn.execute(
            sa.select(article_version.c.article_id, sa.func.max(article_version.c.number))
            .where(article_version.c.article_id.in_(ids))
            .group_by(article_version.c.article_id)
        )
    }
    snapshots: dict[int, dict[str, Any]] = {
        row.id: {name: getattr(row, name) for name in FIELDS}
        for row in conn.execute(
            sa.select(article.c.id, *(article.c[name] for name in FIELDS)).where(article.c.id.in_(ids))
        )
    }
    conn.execute(
        sa.insert(article_version),
        [
            {
                "article_id": d.article_id,
                "number": numbers.get(d.article_id, 0) + 1,
                "at": now,
                "actor_id": None,
                "action": ACTION,
                "changed": ["language"],
                "snapshot": snapshots[d.article_id],
            }
            for d in done
        ],
    )
    conn.execute(
        sa.insert(audit_log),
        [
            {
                "at": now,
                "user_id": None,
                "entity": "kb_article",
                "entity_id": d.article_id,
                "action": ACTION,
                "changes": {"language": [OLD_LANGUAGE, d.language]},
            }
            for d in done
        ],
    )
    # One article-set version per article, as mark_changed numbers them (the row lock on PostgreSQL
    # keeps a concurrent edit's number from interleaving when the command runs beside the app).
    bumped = conn.execute(
        sa.update(index_state).where(index_state.c.id == 1).values(version=index_state.c.version + len(done))
    )
    if bumped.rowcount == 0:  # a schema made without migration 0010's row
        conn.execute(sa.insert(index_state).values(id=1, version=len(done), database_token=uuid.uuid4().hex))
    top = int(conn.scalar(sa.select(index_state.c.version).where(index_state.c.id == 1)) or 0)
    first_seq = top - len(done) + 1
    conn.execute(
        sa.insert(change),
        [{"seq": first_seq + n, "article_id": d.article_id, "at": now} for n, d in enumerate(done)],
    )
    return done


def upgrade() -> None:
    redetect_languages(op.get_bind())


def downgrade() -> None:
    # Nothing is put back: the history says what was detected, and an author can change or restore it.
    pass
