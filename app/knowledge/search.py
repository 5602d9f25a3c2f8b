"""Search and ticket suggestions over the process's index (ranking: the ``knowledge_base`` library)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.knowledge.articles import code_key
from app.knowledge.index import process_cache
from app.models import Asset, KbArticle, KbTicketFeedback, ProductModel, Ticket
from app.platform.config import get_settings
from app.platform.errors import Unprocessable
from app.platform.text import is_blank
from knowledge_base import MAX_QUERY_CHARS, KnowledgeIndex, SearchHit, suggestion_query

MAX_QUERY = MAX_QUERY_CHARS  # characters of a query the ranker reads (a ticket description can be long)
# A fault code as service staff write it: letters then digits, e.g. E04, F-28, F.75 (stored as F75).
FAULT_CODE = re.compile(r"\b([A-Z]{1,3})[-. ]?(\d{1,4})\b")


@dataclass(frozen=True, slots=True)
class Listed:
    """What a hit shows of its article. Read as five columns, not as the ORM row: a search lists up
    to 50 hits, and loading their bodies (most of the bytes) into objects was ~10 % of a search."""

    id: int
    title: str
    language: str
    visibility: str
    solved_count: int


@dataclass(frozen=True, slots=True)
class Found:
    article: Listed
    score: float
    title_html: str
    snippet_html: str
    # False: found by meaning alone, no word of the query in it ("xyzzy" still has a nearest article)
    shares_words: bool


def _rows(session: Session, hits: list[SearchHit]) -> list[Found]:
    ids = [int(h.article_id) for h in hits]
    columns = (
        KbArticle.id,
        KbArticle.title,
        KbArticle.language,
        KbArticle.visibility,
        KbArticle.solved_count,
    )
    rows = (
        {r[0]: Listed(*r) for r in session.execute(select(*columns).where(KbArticle.id.in_(ids)))}
        if ids
        else {}
    )
    return [
        Found(rows[int(h.article_id)], h.score, h.title.html(), h.snippet.html(), h.holds_typed_words)
        for h in hits
        if int(h.article_id) in rows
    ]


def search(session: Session, query: str, *, lang: str | None = None, limit: int = 10) -> list[Found]:
    """Published articles for ``query``, best first; ``lang`` keeps one language's articles."""
    query = query.strip()[:MAX_QUERY]
    if is_blank(query):
        raise Unprocessable(
            "Type what to search for.", errors=[{"field": "q", "message": "must not be blank"}]
        )

    def run(index: KnowledgeIndex) -> list[SearchHit]:
        return index.search(query, limit, language=lang)

    return _rows(session, process_cache().use(session, run))


@dataclass(frozen=True, slots=True)
class TicketContext:
    subject: str
    description: str
    product_model: str | None
    fault_code: str | None
    related_models: tuple[str, ...] = ()  # the other models of the asset's category
    not_helpful: tuple[int, ...] = ()  # articles the agent marked "not helpful" on this ticket


def ticket_context(
    session: Session,
    ticket: Ticket,
    *,
    subject: str | None = None,
    description: str | None = None,
    fault_code: str | None = None,
) -> TicketContext:
    """What a ticket says about its problem: the text (as saved, or as the agent is typing it), the
    asset's product model and its category's other models, a fault code (given, or the first one
    written in the text that is not the model's name), and the articles already found not helpful."""
    subject = ticket.subject if subject is None else subject
    description = ticket.description if description is None else description
    model: str | None = None
    related: tuple[str, ...] = ()
    if ticket.asset_id is not None:
        found = session.execute(
            select(ProductModel.code, ProductModel.category)
            .join(Asset, Asset.product_model_id == ProductModel.id)
            .where(Asset.id == ticket.asset_id)
        ).first()
        if found is not None:
            model = found.code
            related = tuple(
                session.scalars(
                    select(ProductModel.code)
                    .where(ProductModel.category == found.category, ProductModel.code != model)
                    .order_by(ProductModel.code)
                )
            )
    if not fault_code:
        fault_code = _fault_code_in(f"{subject} {description}", model)
    not_helpful = tuple(
        session.scalars(
            select(KbTicketFeedback.article_id)
            .where(KbTicketFeedback.ticket_id == ticket.id, KbTicketFeedback.verdict == "not_helpful")
            .order_by(KbTicketFeedback.id)
        )
    )
    return TicketContext(subject, description, model, fault_code, related, not_helpful)


def _fault_code_in(text: str, model: str | None) -> str | None:
    """The first fault code written in ``text``, passing over the model's own name ("WPL 25" in
    "Stiebel Eltron WPL 25 AC" is the model HP-WPL25, not a fault)."""
    model_letters = re.sub(r"[^A-Z0-9]", "", (model or "").upper())
    for match in FAULT_CODE.finditer(text):
        code = f"{match.group(1)}{match.group(2)}"
        if not (model_letters and code in model_letters):
            return code
    return None


def suggest(session: Session, context: TicketContext, *, limit: int = 5, typing: bool = False) -> list[Found]:
    """The top articles for a ticket (the library's ``suggest``: one query of all four parts, ordered
    by product and language, the articles found not helpful on this ticket last).

    ``typing``: the text is what the agent is typing (a new query every few keystrokes). It ranks like
    the page and the search unless ``KB_TYPING_EMBEDDINGS`` is off: then BM25 only, which skips
    encoding the text (~9 ms p50 on an idle core, more on a busy one; docs/knowledge_base.md).
    """
    if not (context.subject.strip() or context.description.strip()):
        return []
    description = context.description[:MAX_QUERY]
    hits = process_cache().use(
        session,
        lambda index: index.suggest(
            context.subject,
            description,
            product_model=context.product_model,
            related_models=context.related_models,
            fault_code=context.fault_code,
            set_aside=[str(i) for i in context.not_helpful],
            limit=limit,
            semantic=not typing or get_settings().kb_typing_embeddings,
        ),
    )
    return _rows(session, hits)


def suggestion_text(context: TicketContext) -> str:
    return suggestion_query(context.subject, context.description, context.product_model, context.fault_code)


def verdicts(session: Session, ticket_id: int) -> dict[int, str]:
    """article id -> "solved" / "not_helpful" already recorded on this ticket (solved wins)."""
    out: dict[int, str] = {}
    for row in session.scalars(select(KbTicketFeedback).where(KbTicketFeedback.ticket_id == ticket_id)):
        if out.get(row.article_id) != "solved":
            out[row.article_id] = row.verdict
    return out


def for_visit(
    session: Session, *, product_model: str | None, fault_code: str | None, limit: int = 5
) -> list[KbArticle]:
    """Published articles for the engineer's visit: those that name the asset's model or the fault
    code, ranked by the library for "model + code" (so an article naming both comes first)."""
    if not product_model and not fault_code:
        return []
    query = suggestion_query("", "", product_model, fault_code)
    hits = process_cache().use(session, lambda index: index.rank(query, limit * 6))
    ids = [int(h.article_id) for h in hits]
    rows = {a.id: a for a in session.scalars(select(KbArticle).where(KbArticle.id.in_(ids)))} if ids else {}
    # Models compared as the editor compares them: an article saved before codes were checked may
    # spell the model otherwise ("hp-arot").
    model = code_key(product_model) if product_model else None
    return [
        a
        for a in (rows[i] for i in ids if i in rows)
        if (model and model in {code_key(m) for m in a.product_models})
        or (fault_code and fault_code in a.fault_codes)
    ][:limit]
