"""JSONL import and export of articles: one JSON object a line (docs/knowledge_base.md, "In the product").

Import checks every line before it writes anything and runs in one transaction: a file with a bad
line imports nothing, and the report names each bad line by its number. A line is held to the API's
rules (its ``ArticleUpdate`` schema: types, lengths, choices) and the service's (``check_fields``:
item lengths, fault code shapes, product models), so a file cannot bring in what the API refuses.
``id`` is the article's external id (a string); a line whose id exists updates that article (only the
fields it gives), otherwise it creates one with the defaults published, internal, language detected.

An article written in the app has no external id: export names it ``fieldline-<database>-<number>``
(``own_id``; the database's token, so a file taken to another instance never names that instance's
articles) and import finds it by that number again, without giving it an external id, so exporting
and importing again changes nothing. Exports made before wrote its bare number ("27"): such a line
updates article 27 when that has no external id and the same title, rather than creating a copy.

Product model codes are checked against the product models as the editor checks them (case and
separators do not count; stored as the catalogue spells them): a line naming an unknown model is a bad
line, so a typo in a file is reported with its line instead of importing an article no ticket finds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.knowledge.articles import ModelCatalogue, check_fields, create_article, title_key, update_article
from app.knowledge.index import read_state
from app.knowledge.schemas import ArticleUpdate
from app.models import ArticleStatus, ArticleVisibility, KbArticle, User
from app.platform.errors import AppError, Unprocessable
from app.platform.inputs import INT_MAX

ID_MAX = 200  # kb_article.external_id's length (the API's external_id allows as much)
FIELDS = tuple(ArticleUpdate.model_fields)  # what a line may give besides its id; other keys are ignored
CHOICES = ("language", "status", "visibility")  # null: as if not given (the language is then detected)
EXPORTED = ("title", "symptom", "body", "resolution_steps", "product_models", "fault_codes", "tags")
_OWN_ID = re.compile(r"fieldline-([0-9a-f]{8})-([1-9][0-9]{0,9})")
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")  # an export made before own ids: the article's bare number


@dataclass
class ImportReport:
    lines: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def own_id(token: str, article_id: int) -> str:
    """The id export gives an article written in the app (it has no external id)."""
    return f"fieldline-{token[:8]}-{article_id}" if token else str(article_id)


def _schema_problem(error: ErrorDetails) -> tuple[str, str]:
    message = error["msg"].removeprefix("Value error, ")
    if error["loc"]:
        return str(error["loc"][0]), message  # "tags", not "tags.3"
    # A rule over the whole object (the schema's model validators) names its field first:
    # "tags: each item at most 100 characters", "title cannot be null".
    name = re.split(r"[:\s]", message, maxsplit=1)[0]
    if name in FIELDS:
        return name, message.removeprefix(name).lstrip(":").strip()
    return "", message


def _check(raw: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The article fields of one line, or what is wrong with them as (field, message)."""
    if not isinstance(raw, dict):
        return {}, [("", "a line must be a JSON object")]
    problems = [(name, "is required") for name in ("id", "title", "body") if name not in raw]
    external_id = raw.get("id")
    if "id" in raw:
        if not isinstance(external_id, str):
            problems.append(("id", "must be a string"))
        elif not external_id.strip():
            problems.append(("id", "must not be blank"))
        elif len(external_id.strip()) > ID_MAX:
            problems.append(("id", f"at most {ID_MAX} characters"))
        elif "\x00" in external_id:
            problems.append(("id", "must not contain a NUL character"))
    given = {k: v for k, v in raw.items() if k in FIELDS and not (k in CHOICES and v is None)}
    values: dict[str, Any] = {}
    try:  # the API's own schema for a change of the given fields
        values = ArticleUpdate.model_validate(given).model_dump(mode="json", exclude_unset=True)
    except ValidationError as exc:
        problems.extend(_schema_problem(e) for e in exc.errors())
    if problems or not isinstance(external_id, str):
        return {}, problems
    return {"id": external_id.strip(), **values}, []


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
        external_id = values["id"]
        if external_id in seen:
            errors.append(
                {"line": number, "field": "id", "message": f"repeats the id of line {seen[external_id]}"}
            )
            continue
        seen[external_id] = number
        good.append((number, values))
    return good, errors


def _chunks(values: list[Any], size: int = 500) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _existing(session: Session, good: list[tuple[int, dict[str, Any]]]) -> dict[int, KbArticle]:
    """The article each line names, by line number: by external id, else (an article written in the
    app) by its number in an id of this database's (``own_id``) or of an older export."""
    ids = [values["id"] for _, values in good]
    by_external: dict[str, KbArticle] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(KbArticle).where(KbArticle.external_id.in_(chunk))):
            by_external[row.external_id or ""] = row
    token = read_state(session)[1][:8]
    wanted: dict[int, tuple[int, bool]] = {}  # line -> (article number, found by an old bare number)
    for number, values in good:
        if values["id"] in by_external:
            continue
        own = _OWN_ID.fullmatch(values["id"])
        if own and token and own[1] == token and int(own[2]) <= INT_MAX:
            wanted[number] = (int(own[2]), False)
        elif _NUMBER.fullmatch(values["id"]) and int(values["id"]) <= INT_MAX:
            wanted[number] = (int(values["id"]), True)
    by_number: dict[int, KbArticle] = {}
    for chunk in _chunks(sorted({n for n, _ in wanted.values()})):
        by_number.update(
            (row.id, row) for row in session.scalars(select(KbArticle).where(KbArticle.id.in_(chunk)))
        )
    found: dict[int, KbArticle] = {}
    for number, values in good:
        article = by_external.get(values["id"])
        if article is None and number in wanted:
            article_id, bare = wanted[number]
            article = by_number.get(article_id)
            # A bare number may be another system's id: only an app-written article of the same
            # title is taken for the one an older export wrote.
            if article is not None and bare:
                same = article.external_id is None and title_key(article.title) == title_key(values["title"])
                article = article if same else None
        if article is not None:
            found[number] = article
    return found


def _refuse(errors: list[dict[str, Any]]) -> Unprocessable:
    errors.sort(key=lambda e: e["line"])
    first = errors[0]
    return Unprocessable(
        f"Nothing was imported: {len({e['line'] for e in errors})} line(s) are wrong, the first is line "
        f"{first['line']}"
        + (f" ({first['field']}: {first['message']})" if first["field"] else f" ({first['message']})"),
        errors=errors,
    )


def import_lines(session: Session, lines: Iterable[str], *, actor: User | None) -> ImportReport:
    """Upsert every line's article, or (any bad line) raise 422 with all the bad lines and write nothing."""
    good, errors = parse(lines)
    catalogue = ModelCatalogue.load(session)  # once for the file, not once an article
    for number, values in good:
        # The rules every save applies (without detecting the language, which the save does).
        _, problems = check_fields(session, values, catalogue=catalogue)
        errors.extend({"line": number, **problem} for problem in problems)
    existing = _existing(session, good)
    first_line: dict[int, int] = {}  # article id -> the line that names it
    for number, named in sorted(existing.items()):
        if named.id in first_line:  # e.g. its own id and an older export's bare number
            message = f"names the same article ({named.id}) as line {first_line[named.id]}"
            errors.append({"line": number, "field": "id", "message": message})
        first_line.setdefault(named.id, number)
    report = ImportReport(lines=len(good) + len({e["line"] for e in errors} - {n for n, _ in good}))
    if errors:
        report.errors = errors
        raise _refuse(errors)
    for number, values in good:
        external_id = values.pop("id")
        article = existing.get(number)
        try:
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
        except AppError as exc:  # checked above, so not expected: still a bad line, never a traceback
            problems = exc.errors or [{"field": "", "message": exc.detail}]
            raise _refuse([{"line": number, "field": "", "message": "", **p} for p in problems]) from exc
    return report


def import_records(
    session: Session, records: Iterable[dict[str, Any]], *, actor: User | None
) -> ImportReport:
    """The same as a file of these records (the demo seed's articles)."""
    return import_lines(session, (json.dumps(r, ensure_ascii=False) for r in records), actor=actor)


def export_lines(session: Session) -> Iterator[str]:
    """Every article as a JSON line; ``id`` is its external id (``own_id`` for one written in the app)."""
    token = read_state(session)[1]
    for row in session.scalars(select(KbArticle).order_by(KbArticle.id)).yield_per(500):
        record: dict[str, Any] = {"id": row.external_id or own_id(token, row.id)}
        record.update({name: getattr(row, name) for name in EXPORTED})
        record.update(language=row.language, status=row.status, visibility=row.visibility)
        yield json.dumps(record, ensure_ascii=False)
