"""``/kb``: look something up in the knowledge base, and browse its articles.

- With ``q``: the published articles for the question, ranked by the same search as the API and the
  ticket's suggestions, with highlighted snippets (``lang`` keeps one language).
- Without: the articles, most recently changed first, 50 a page (``before``: the keyset of the page's
  last row). The office roles filter by status (drafts and archived ones too); engineers see
  published articles only, as everywhere.

Every signed-in role may open it; the writers (agents, managers, admins) get "New article".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import and_, or_

from app.knowledge import articles, search
from app.models import ArticleStatus, KbArticle, Role
from app.platform.errors import AppError
from app.platform.inputs import INT_MAX
from app.web.messages import page_error
from app.web.shared import PageDb, PageRoute, PageUser, render

router = APIRouter(route_class=PageRoute)
PAGE_SIZE = 50
SEARCH_LIMIT = 10  # as the API's default: further down, hybrid search mostly returns what is merely near
LANGUAGES = articles.LANGUAGE_NAMES  # the languages the library tells apart (en, zh, de, fr, es, it, nl)
STATUSES = tuple(s.value for s in ArticleStatus)
MAX_QUERY = search.MAX_QUERY  # as the API's /kb/search and the library (knowledge_base.MAX_QUERY_CHARS)


def _cursor(value: str) -> tuple[datetime, int] | None:
    """``before`` is "<updated_at ISO>_<id>" of the last row shown; anything else starts over."""
    stamp, _, raw_id = value.rpartition("_")
    if not raw_id.isdecimal() or len(raw_id) > 10 or int(raw_id) > INT_MAX:  # ids are int4
        return None
    try:
        at = datetime.fromisoformat(stamp)
        # The column refuses a naive time (a 500): the links we write always carry +00:00.
        # astimezone can overflow (0001-01-01T00:00+14:00): that is a bad link too.
        return (at.astimezone(UTC), int(raw_id)) if at.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _browse(
    db: PageDb, user: PageUser, *, status: str, lang: str, before: tuple[datetime, int] | None
) -> dict[str, Any]:
    stmt = articles.readable(user)
    if status:
        stmt = stmt.where(KbArticle.status == status)
    if lang:
        stmt = stmt.where(KbArticle.language == lang)
    if before is not None:
        at, last_id = before
        stmt = stmt.where(
            or_(KbArticle.updated_at < at, and_(KbArticle.updated_at == at, KbArticle.id < last_id))
        )
    rows = list(
        db.scalars(stmt.order_by(KbArticle.updated_at.desc(), KbArticle.id.desc()).limit(PAGE_SIZE + 1))
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    last = rows[-1] if rows else None
    return {
        "rows": rows,
        "next": f"{last.updated_at.isoformat()}_{last.id}" if more and last is not None else "",
    }


@router.get("/kb")
def kb_page(
    request: Request,
    db: PageDb,
    user: PageUser,
    q: str = "",
    lang: str = "",
    status: str = "",
    before: str = "",
) -> HTMLResponse:
    office = user.role != Role.engineer.value
    notes: list[str] = []
    if lang and lang not in LANGUAGES:
        notes.append(f"Unknown language “{lang[:20]}”: showing every language.")
        lang = ""
    if status and (status not in STATUSES or not office):
        if office:
            notes.append(f"Unknown status “{status[:20]}”: showing every status.")
        status = ""
    query = q.strip()
    if len(query) > MAX_QUERY:
        notes.append(f"Only the first {MAX_QUERY} characters of the question were searched.")
        query = query[:MAX_QUERY]
    context: dict[str, Any] = {
        "nav": "kb",
        "q": query,
        "lang": lang,
        "status": status,
        "languages": LANGUAGES,
        "statuses": STATUSES if office else (),
        "can_write": articles.can_write(user),
        "notes": notes,
        "hits": None,
        "error": "",
    }
    if query:
        try:
            context["hits"] = search.search(db, query, lang=lang or None, limit=SEARCH_LIMIT)
        except AppError as exc:
            context["error"] = page_error(exc)
            context["hits"] = []
    else:
        cursor = _cursor(before) if before else None
        if before and cursor is None:
            notes.append("That page link was not valid: showing the first page.")
        context.update(_browse(db, user, status=status, lang=lang, before=cursor))
        context["paged"] = cursor is not None
    return render(request, "kb/index.html", context)
