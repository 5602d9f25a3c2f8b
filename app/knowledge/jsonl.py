"""JSONL import and export of articles: one JSON object a line (docs/knowledge_base.md, "In the product").

Import checks every line before it writes anything and runs in one transaction: a file with a bad
line imports nothing, and the report names each bad line by its number. ``id`` is the article's
external id (a string); a line whose id exists updates that article (only the fields it gives),
otherwise it creates one with the defaults published, internal, language detected.

Product model codes are checked against the product models as the editor checks them (case and
separators do not count; stored as the catalogue spells them): a line naming an unknown model is a bad
line, so a typo in a file is reported with its line instead of importing an article no ticket finds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.knowledge.articles import LANGUAGES, ModelCatalogue, create_article, update_article
from app.models import ArticleStatus, ArticleVisibility, KbArticle, User
from app.platform.errors import Unprocessable

TEXT_LIMITS = {"id": 200, "title": 300, "symptom": 20000, "body": 200000}
LISTS = ("tags", "product_models", "fault_codes", "resolution_steps")
CHOICES = {
    "language": LANGUAGES,
    "status": tuple(ArticleStatus.__members__),
    "visibility": tuple(ArticleVisibility.__members__),
}
EXPORTED = ("title", "symptom", "body", "resolution_steps", "product_models", "fault_codes", "tags")


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def _check(raw: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The article fields of one line, or what is wrong with them as (field, message)."""
    if not isinstance(raw, dict):
        return {}, [("", "a line must be a JSON object")]
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    for name in ("id", "title", "body"):
        if name not in raw:
            problems.append((name, "is required"))
    for name, limit in TEXT_LIMITS.items():
        if name not in raw:
            continue
        value = raw[name]
        if not isinstance(value, str):
            problems.append((name, "must be a string"))
        elif name in ("id", "title") and not value.strip():
            problems.append((name, "must not be blank"))
        elif len(value) > limit:
            problems.append((name, f"at most {limit} characters"))
        elif "\x00" in value:
            problems.append((name, "must not contain a NUL character"))
        else:
            values[name] = value
    for name in LISTS:
        if name in raw:
            value = raw[name]
            if not isinstance(value, list) or not all(isinstance(v, str) and "\x00" not in v for v in value):
                problems.append((name, "must be a list of strings"))
            elif len(value) > 50:
                problems.append((name, "at most 50 items"))
            else:
                values[name] = value
    for name, allowed in CHOICES.items():
        if name in raw and raw[name] is not None:
            if raw[name] not in allowed:
                problems.append((name, "one of " + ", ".join(allowed)))
            else:
                values[name] = raw[name]
    return values, problems


def parse(lines: Iterable[str]) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
    """(line number, fields) of the good lines and {line, field, message} of the bad ones."""
    good: list[tuple[int, dict[str, Any]]] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append({"line": number, "field": "", "message": f"not valid JSON ({exc.msg})"})
            continue
        values, problems = _check(raw)
        errors.extend({"line": number, "field": f, "message": m} for f, m in problems)
        if problems:
            continue
        external_id = values["id"].strip()
        if external_id in seen:
            errors.append(
                {"line": number, "field": "id", "message": f"repeats the id of line {seen[external_id]}"}
            )
            continue
        seen[external_id] = number
        good.append((number, values))
    return good, errors


def import_lines(session: Session, lines: Iterable[str], *, actor: User | None) -> ImportReport:
    """Upsert every line's article, or (any bad line) raise 422 with all the bad lines and write nothing."""
    good, errors = parse(lines)
    catalogue = ModelCatalogue.load(session)  # once for the file, not once an article
    for number, values in good:
        if values.get("product_models"):
            values["product_models"], unknown = catalogue.check(
                [v.strip() for v in values["product_models"] if v.strip()]
            )
            errors.extend({"line": number, "field": "product_models", "message": m} for m in unknown)
    errors.sort(key=lambda e: e["line"])
    report = ImportReport(lines=len(good) + len({e["line"] for e in errors}))
    if errors:
        report.errors = errors
        first = errors[0]
        raise Unprocessable(
            f"Nothing was imported: {len({e['line'] for e in errors})} line(s) are wrong, the first is line "
            f"{first['line']}"
            + (f" ({first['field']}: {first['message']})" if first["field"] else f" ({first['message']})"),
            errors=errors,
        )
    ids = [values["id"].strip() for _, values in good]
    existing: dict[str, KbArticle] = {}
    for chunk in range(0, len(ids), 500):
        for row in session.scalars(
            select(KbArticle).where(KbArticle.external_id.in_(ids[chunk : chunk + 500]))
        ):
            existing[row.external_id or ""] = row
    for _, values in good:
        external_id = values.pop("id").strip()
        article = existing.get(external_id)
        if article is None:
            values.setdefault("status", ArticleStatus.published.value)
            values.setdefault("visibility", ArticleVisibility.internal.value)
            create_article(
                session,
                values=values,
                actor=actor,
                external_id=external_id,
                action="imported",
                catalogue=catalogue,
            )
            report.created += 1
        elif update_article(
            session, article, values=values, actor=actor, action="imported", catalogue=catalogue
        ):
            report.updated += 1
        else:
            report.unchanged += 1
    return report


def import_records(
    session: Session, records: Iterable[dict[str, Any]], *, actor: User | None
) -> ImportReport:
    """The same as a file of these records (the demo seed's articles)."""
    return import_lines(session, (json.dumps(r, ensure_ascii=False) for r in records), actor=actor)


def export_lines(session: Session) -> Iterator[str]:
    """Every article as a JSON line; ``id`` is its external id (its number for one made in the app)."""
    for row in session.scalars(select(KbArticle).order_by(KbArticle.id)).yield_per(500):
        record: dict[str, Any] = {"id": row.external_id or str(row.id)}
        record.update({name: getattr(row, name) for name in EXPORTED})
        record.update(language=row.language, status=row.status, visibility=row.visibility)
        yield json.dumps(record, ensure_ascii=False)
