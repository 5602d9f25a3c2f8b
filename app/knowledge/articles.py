"""Articles: create, change, delete (a never-published draft only), restore an old version; who may
read which.

Every change writes a version snapshot (who, which fields) and marks the article changed for the
search index (``app.knowledge.index.mark_changed``) in the same transaction.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.knowledge.index import mark_changed
from app.models import (
    ArticleStatus,
    ArticleVisibility,
    KbArticle,
    KbArticleVersion,
    KbTicketFeedback,
    ProductModel,
    Role,
    User,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.platform.text import is_blank
from knowledge_base import LANGUAGE_NAMES as LANGUAGE_NAMES  # for the pages (they may not import it)
from knowledge_base import LANGUAGES as LANGUAGES
from knowledge_base import detect_language

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
# A product model or fault code as the CRM writes them: HP-AROT, CH-30XW, F75, E.04, UPS/93PM.
CODE = re.compile(r"[A-Za-z0-9]+(?:[-._/][A-Za-z0-9]+)*")
WRITERS = frozenset({Role.agent.value, Role.manager.value, Role.admin.value})


# What a typed model code is compared by: case and separators do not count ("xr 500", "XR500" and
# "XR-500" are one code), as a serial typed in the customer search and the model names the suggestions
# compare (upper-cased); the article stores the catalogue's spelling, which the visit page matches.
_SEPARATORS = re.compile(r"[\s\-._/]+")


def code_key(code: str) -> str:
    return _SEPARATORS.sub("", code).upper()


@dataclass(frozen=True, slots=True)
class ModelCatalogue:
    """The product models' codes (``ProductModel.code``): an article may name only these, since a
    ticket's and a visit's model is always one of them and an unknown code would match nothing."""

    by_key: Mapping[str, tuple[str, ...]]

    @classmethod
    def load(cls, session: Session) -> ModelCatalogue:
        by_key: dict[str, tuple[str, ...]] = {}
        for code in session.scalars(select(ProductModel.code).order_by(ProductModel.code)):
            by_key[code_key(code)] = (*by_key.get(code_key(code), ()), code)
        return cls(by_key)

    def resolve(self, typed: str) -> str | None:
        """The catalogue's code for ``typed``; None when no code (or no single code) is meant."""
        found = self.by_key.get(code_key(typed), ())
        if len(found) == 1:
            return found[0]
        exact = [code for code in found if code.upper() == typed.strip().upper()]  # "A-1" vs "A.1"
        return exact[0] if len(exact) == 1 else None

    def problem(self, typed: str) -> str:
        """Why ``typed`` names no model, with the closest known code when one is near."""
        if not self.by_key:
            return f"{typed}: no product models are recorded yet (import them before naming one here)"
        found = self.by_key.get(code_key(typed), ())
        if len(found) > 1:
            return f"{typed}: could be {' or '.join(found)}; type it as one of them"
        close = difflib.get_close_matches(code_key(typed), self.by_key, n=1, cutoff=0.6)
        hint = f" (did you mean {self.by_key[close[0]][0]}?)" if close else ""
        return f"{typed}: no product model has this code{hint}"

    def check(self, typed: Sequence[str]) -> tuple[list[str], list[str]]:
        """(the codes as the catalogue spells them, in order, without repeats; the problems)."""
        codes: list[str] = []
        problems: list[str] = []
        for value in typed:
            code = self.resolve(value)
            if code is None:
                problems.append(self.problem(value))
            elif code not in codes:
                codes.append(code)
        return codes, problems


def can_write(user: User) -> bool:
    return user.role in WRITERS


def require_writer(user: User) -> None:
    if not can_write(user):
        raise Forbidden("Writing knowledge articles needs one of the roles: admin, agent, manager.")


def readable(user: User) -> Select[Any]:
    """Engineers read published articles only; the office reads drafts and archived ones too."""
    stmt = select(KbArticle)
    if user.role == Role.engineer.value:
        stmt = stmt.where(KbArticle.status == ArticleStatus.published.value)
    return stmt


def get_article(session: Session, article_id: int, *, reader: User) -> KbArticle:
    """404 for an unknown id and for an article this reader may not see (no hint that it exists)."""
    article: KbArticle | None = session.scalar(readable(reader).where(KbArticle.id == article_id))
    if article is None:
        raise NotFound(f"No knowledge article {article_id}.")
    return article


def snapshot(article: KbArticle) -> dict[str, Any]:
    return {name: _copy(getattr(article, name)) for name in FIELDS}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value


def one_line_end(text: str) -> str:
    """Line breaks as "\n": a browser's textarea sends "\r\n", a Windows export too. Stored as typed,
    a save of the unchanged editor differed from the API's text and made a version of nothing."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _comparable(value: Any) -> Any:
    if isinstance(value, str):
        return one_line_end(value)
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    return value


def same_value(a: Any, b: Any) -> bool:
    """Field values equal but for their line breaks: text stored with "\r\n" before they were
    normalised is not changed by a save that sends it back with "\n" (no version, no "differs")."""
    return bool(_comparable(a) == _comparable(b))


def _clean_list(values: Sequence[str]) -> list[str]:
    """Trimmed, without blanks and repeats, in the writer's order."""
    out: list[str] = []
    for value in values:
        text = one_line_end(str(value)).strip()
        if text and text not in out:
            out.append(text)
    return out


# Each list item's length, as the API's schemas allow (app/knowledge/schemas.py `_check_items`); held
# here too, so the editor's pages and the JSONL import, which have no schema, keep the same limit.
ITEM_LIMITS = {"resolution_steps": 2000, "product_models": 100, "fault_codes": 100, "tags": 100}


def check_fields(
    session: Session, values: Mapping[str, Any], *, catalogue: ModelCatalogue | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The given fields tidied, and what is wrong with them as {field, message}: the rules every
    writer (API, editor, import) is held to. Product models must be in the catalogue (``catalogue``,
    else read from ``session``) and come back as it spells them."""
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in FIELDS:
            continue
        if name in ITEM_LIMITS:
            out[name] = _clean_list(value or [])
        elif name in ("title", "symptom", "body"):
            out[name] = one_line_end(str(value or "")).strip()
        else:
            out[name] = value
    if "title" in out and is_blank(out["title"]):
        errors.append({"field": "title", "message": "must not be blank"})
    if out.get("status") is not None and out["status"] not in ArticleStatus.__members__:
        errors.append({"field": "status", "message": "draft, published or archived"})
    if out.get("visibility") is not None and out["visibility"] not in ArticleVisibility.__members__:
        errors.append({"field": "visibility", "message": "internal or customer"})
    if out.get("language") is not None and out["language"] not in LANGUAGES:
        errors.append({"field": "language", "message": "one of " + ", ".join(LANGUAGES)})
    for name, limit in ITEM_LIMITS.items():
        if any(len(item) > limit for item in out.get(name, [])):
            errors.append({"field": name, "message": f"each item at most {limit} characters"})
    if out.get("product_models"):
        # A typo ("XR-50O") would match no ticket's or visit's model: the article would never be shown.
        out["product_models"], unknown = (catalogue or ModelCatalogue.load(session)).check(
            out["product_models"]
        )
        if unknown:
            errors.append({"field": "product_models", "message": "; ".join(unknown)})
    # Fault codes have no catalogue (a ticket's code is read from its text): only their shape is checked.
    odd = [code for code in out.get("fault_codes", []) if not CODE.fullmatch(code)]
    if odd:  # "f 75; ???" matches no ticket's code: the article would never be suggested by it
        errors.append(
            {
                "field": "fault_codes",
                "message": f"{', '.join(odd[:3])}: a fault code is letters and digits, "
                "with - . _ / between (e.g. F75, E.04)",
            }
        )
    return out, errors


def normalise(
    session: Session,
    values: Mapping[str, Any],
    *,
    current: KbArticle | None = None,
    catalogue: ModelCatalogue | None = None,
) -> dict[str, Any]:
    """The given fields tidied (``check_fields``), or 422 naming each bad one; a new article's missing
    language is detected from the text."""
    out, errors = check_fields(session, values, catalogue=catalogue)
    if errors:
        raise Unprocessable("The article was not saved: " + _describe(errors) + ".", errors=errors)
    if "language" in out and out["language"] is None:
        del out["language"]
    if current is None and "language" not in out:
        out["language"] = detect_language(
            " ".join([out.get("title", ""), out.get("symptom", ""), out.get("body", "")])
        )
    return out


def _describe(errors: list[dict[str, str]]) -> str:
    return "; ".join(f"{e['field']}: {e['message']}" for e in errors)


def _record_version(
    session: Session, article: KbArticle, actor: User | None, action: str, changed: list[str]
) -> None:
    session.flush()  # the article's id (and a new version number) exist from here
    number = (
        session.scalar(
            select(func.max(KbArticleVersion.number)).where(KbArticleVersion.article_id == article.id)
        )
        or 0
    ) + 1
    session.add(
        KbArticleVersion(
            article_id=article.id,
            number=number,
            at=utcnow(),
            actor_id=actor.id if actor else None,
            action=action,
            changed=changed,
            snapshot=snapshot(article),
        )
    )
    mark_changed(session, article.id)


def create_article(
    session: Session,
    *,
    values: Mapping[str, Any],
    actor: User | None,
    external_id: str | None = None,
    action: str = "created",
    catalogue: ModelCatalogue | None = None,
) -> KbArticle:
    if external_id is not None and session.scalar(
        select(KbArticle.id).where(KbArticle.external_id == external_id)
    ):
        # The unique index would refuse it anyway, but as a 500 that ends the request's transaction.
        raise Conflict(
            f"An article with the external id {external_id} already exists.",
            errors=[{"field": "external_id", "message": "already exists"}],
        )
    clean = normalise(session, values, catalogue=catalogue)
    article = KbArticle(
        external_id=external_id,
        author_id=actor.id if actor else None,
        status=clean.pop("status", None) or ArticleStatus.draft.value,
        visibility=clean.pop("visibility", None) or ArticleVisibility.internal.value,
        **{k: v for k, v in clean.items()},
    )
    session.add(article)
    _record_version(session, article, actor, action, sorted(FIELDS))
    audit.record(session, actor, "kb_article", article.id, action, {"title": [None, article.title]})
    return article


def update_article(
    session: Session,
    article: KbArticle,
    *,
    values: Mapping[str, Any],
    actor: User | None,
    action: str = "updated",
    catalogue: ModelCatalogue | None = None,
) -> list[str]:
    """Set the given fields; returns the names of those that changed (none: no new version)."""
    clean = normalise(session, values, current=article, catalogue=catalogue)
    changed = [name for name, value in clean.items() if not same_value(getattr(article, name), value)]
    if not changed:
        return []
    before = {name: _copy(getattr(article, name)) for name in changed}
    for name in changed:
        setattr(article, name, clean[name])
    _record_version(session, article, actor, action, changed)
    audit.record(
        session,
        actor,
        "kb_article",
        article.id,
        action,
        {name: [before[name], clean[name]] for name in changed if name not in ("body", "symptom")},
    )
    return changed


def title_key(title: str) -> str:
    """A title as the same-title check compares it: case, spacing and accents do not count
    ("Pumpe  läuft nicht" is "pumpe lauft nicht")."""
    text = " ".join(title.casefold().split())
    if text.isascii():  # most titles: nothing to strip, and the check folds every title of a language
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def same_title(session: Session, article: KbArticle) -> list[KbArticle]:
    """The other articles in ``article``'s language, archived ones aside, whose title is the same
    folded (``title_key``): three articles titled alike split the votes and confuse the reader, so
    the editor asks before a new one joins them. Titles are not keys: the API and imports accept them.

    Titles have no folded key column, so this reads the language's titles (ids and titles only) and
    folds them here: about 40 ms at 50 000 articles, on a save made by a person only."""
    key = title_key(article.title)
    ids = [
        article_id
        for article_id, title in session.execute(
            select(KbArticle.id, KbArticle.title).where(
                KbArticle.language == article.language,
                KbArticle.status != ArticleStatus.archived.value,
                KbArticle.id != article.id,
            )
        )
        if title_key(title) == key
    ]
    if not ids:
        return []
    return list(session.scalars(select(KbArticle).where(KbArticle.id.in_(ids)).order_by(KbArticle.id)))


def why_kept(session: Session, article: KbArticle) -> str | None:
    """Why ``article`` may not be deleted, or None. A published article may have been read, linked or
    sent to a customer, and a ticket's verdict on it is the record of how that ticket was solved
    (first-contact resolution, the proven boost): deleting it would take its versions and those
    verdicts with it (their foreign keys cascade). Only a draft that was never published and that no
    ticket names may go; archiving keeps the rest out of search and suggestions."""
    tickets = session.scalar(
        select(func.count(func.distinct(KbTicketFeedback.ticket_id))).where(
            KbTicketFeedback.article_id == article.id
        )
    )
    if tickets:
        return f"{tickets} ticket{'' if tickets == 1 else 's'} record it ('This solved it' or 'Not helpful')"
    published = ArticleStatus.published.value
    snapshots = session.scalars(
        select(KbArticleVersion.snapshot).where(KbArticleVersion.article_id == article.id)
    )
    if article.status == published or any(s.get("status") == published for s in snapshots):
        return "it was published"
    return None


def delete_article(session: Session, article: KbArticle, *, actor: User | None) -> None:
    """Delete a never-published draft no ticket names (409 otherwise: ``why_kept``)."""
    reason = why_kept(session, article)
    if reason:
        message = (
            f"Article {article.id} cannot be deleted: {reason}. Archive it instead (status archived): "
            "it leaves search and suggestions, and its history is kept."
        )
        raise Conflict(message, errors=[{"field": "status", "message": f"{reason}: archive it instead"}])
    article_id = article.id
    session.delete(article)
    session.flush()
    mark_changed(session, article_id)
    audit.record(session, actor, "kb_article", article_id, "deleted", {"title": [article.title, None]})


def versions(session: Session, article: KbArticle) -> list[KbArticleVersion]:
    return list(
        session.scalars(
            select(KbArticleVersion)
            .where(KbArticleVersion.article_id == article.id)
            .order_by(KbArticleVersion.number.desc())
        )
    )


def get_version(session: Session, article: KbArticle, number: int) -> KbArticleVersion:
    old = session.scalar(
        select(KbArticleVersion).where(
            KbArticleVersion.article_id == article.id, KbArticleVersion.number == number
        )
    )
    if old is None:
        raise NotFound(f"Knowledge article {article.id} has no version {number}.")
    return old


def restore_version(session: Session, article: KbArticle, *, number: int, actor: User | None) -> list[str]:
    """Make version ``number``'s fields current again (a new version: history is never rewritten)."""
    old = get_version(session, article, number)
    return update_article(
        session,
        article,
        values={k: v for k, v in old.snapshot.items() if k in FIELDS},
        actor=actor,
        action="restored",
    )
