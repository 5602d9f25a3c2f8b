"""/api/v1/kb: articles (CRUD, versions, restore), search; and the knowledge routes under /tickets
(suggestions, "this solved it", "not helpful") — here, because the desk may not import knowledge.

Roles: agents, managers and admins write; every signed-in role reads (engineers published articles
only: anything else is 404 to them); ticket routes are for desk roles like the rest of /tickets.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from app.desk.tickets import service as tickets
from app.knowledge import articles, feedback, from_ticket, search
from app.knowledge.markdown import render_markdown
from app.knowledge.schemas import (
    ArticleCreate,
    ArticleRead,
    ArticleUpdate,
    FeedbackIn,
    FeedbackRead,
    FromTicketIn,
    Hit,
    SearchResult,
    Suggestions,
    VersionRead,
)
from app.models import ArticleStatus, ArticleVisibility, KbArticle, KbTicketFeedback, Role
from app.platform.deps import CurrentUser, DbSession, DeskUser
from app.platform.errors import Forbidden
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Page,
    etag,
    idempotent_create,
    paginate,
    require_if_match,
    row_tag,
)
from knowledge_base import Language

router = APIRouter(prefix="/kb", tags=["knowledge base"])
ticket_router = APIRouter(prefix="/tickets", tags=["tickets"])
CHANNEL = "api"


def read(article: KbArticle) -> ArticleRead:
    out = ArticleRead.model_validate(article)
    out.body_html = render_markdown(article.body)
    return out


def _etag(article: KbArticle) -> str:
    # With the row's tag: on SQLite a new article may get a deleted draft's id (and version 1 again).
    return etag(article.version, row_tag(article.created_at))


def _with_etag(db: DbSession, article: KbArticle, response: Response) -> ArticleRead:
    db.flush()
    db.refresh(article)
    response.headers["ETag"] = _etag(article)
    return read(article)


def hits(found: list[search.Found]) -> list[Hit]:
    return [
        Hit(
            article_id=f.article.id,
            title=f.article.title,
            title_html=f.title_html,
            snippet_html=f.snippet_html,
            shares_words=f.shares_words,
            language=f.article.language,
            visibility=ArticleVisibility(f.article.visibility),
            solved_count=f.article.solved_count,
            score=round(f.score, 6),
        )
        for f in found
    ]


@router.post("/articles", status_code=201, response_model=ArticleRead, dependencies=[IDEMPOTENCY_KEY])
def create(body: ArticleCreate, request: Request, db: DbSession, user: CurrentUser) -> JSONResponse:
    """Write an article (agents, managers, admins). Honours Idempotency-Key."""
    articles.require_writer(user)

    def _create() -> tuple[ArticleRead, dict[str, str]]:
        values = body.model_dump(mode="json", exclude={"external_id"})
        article = articles.create_article(db, values=values, actor=user, external_id=body.external_id)
        db.flush()
        return read(article), {"Location": f"/api/v1/kb/articles/{article.id}", "ETag": _etag(article)}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.post(
    "/articles/from-ticket", status_code=201, response_model=ArticleRead, dependencies=[IDEMPOTENCY_KEY]
)
def create_from_ticket(body: FromTicketIn, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """A draft prefilled from the ticket: subject, description, the asset's model, the resolution."""
    articles.require_writer(user)
    tickets.get_ticket(db, body.ticket_id)  # 404 before anything is written

    existing = from_ticket.open_draft(db, body.ticket_id)
    if existing is not None:  # the ticket's draft already exists: 200 with it, not a twin
        return JSONResponse(
            read(existing).model_dump(mode="json"),
            headers={"Location": f"/api/v1/kb/articles/{existing.id}", "ETag": _etag(existing)},
        )

    def _create() -> tuple[ArticleRead, dict[str, str]]:
        article, _ = from_ticket.draft_from_ticket(db, ticket_id=body.ticket_id, actor=user)
        db.flush()
        return read(article), {"Location": f"/api/v1/kb/articles/{article.id}", "ETag": _etag(article)}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.get("/articles")
def list_articles(
    db: DbSession,
    user: CurrentUser,
    status: ArticleStatus | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[ArticleRead]:
    stmt = articles.readable(user)
    if status is not None:
        stmt = stmt.where(KbArticle.status == status.value)
    rows, next_cursor = paginate(db, stmt, KbArticle.id, cursor=cursor, limit=limit)
    return Page[ArticleRead](items=[read(a) for a in rows], next_cursor=next_cursor)


@router.get("/articles/{article_id}")
def get_one(article_id: int, db: DbSession, user: CurrentUser, response: Response) -> ArticleRead:
    article = articles.get_article(db, article_id, reader=user)
    response.headers["ETag"] = _etag(article)
    return read(article)


@router.patch("/articles/{article_id}", dependencies=[IF_MATCH])
def update(
    article_id: int,
    body: ArticleUpdate,
    request: Request,
    db: DbSession,
    user: CurrentUser,
    response: Response,
) -> ArticleRead:
    """Change fields; needs If-Match. Each change is a new version (who, which fields)."""
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    require_if_match(request, article.version, row_tag(article.created_at))
    articles.update_article(db, article, values=body.model_dump(mode="json", exclude_unset=True), actor=user)
    return _with_etag(db, article, response)


@router.delete("/articles/{article_id}", status_code=204, dependencies=[IF_MATCH])
def delete(article_id: int, request: Request, db: DbSession, user: CurrentUser) -> Response:
    """Delete a draft that was never published and no ticket names (needs If-Match); anything else is a
    409 that says to archive it (status archived), which keeps its history and the tickets' links."""
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    require_if_match(request, article.version, row_tag(article.created_at))
    articles.delete_article(db, article, actor=user)
    return Response(status_code=204)


@router.get("/articles/{article_id}/versions")
def list_versions(article_id: int, db: DbSession, user: CurrentUser) -> list[VersionRead]:
    """The history, newest first. Engineers see only published articles, and not their history."""
    if user.role == Role.engineer.value:
        raise Forbidden("An article's history is for the office roles; engineers read published articles.")
    article = articles.get_article(db, article_id, reader=user)
    return [VersionRead.model_validate(v) for v in articles.versions(db, article)]


@router.post("/articles/{article_id}/versions/{number}/restore", dependencies=[IF_MATCH])
def restore(
    article_id: int, number: int, request: Request, db: DbSession, user: CurrentUser, response: Response
) -> ArticleRead:
    """Make an old version's content current (a new version); needs If-Match."""
    articles.require_writer(user)
    article = articles.get_article(db, article_id, reader=user)
    require_if_match(request, article.version, row_tag(article.created_at))
    articles.restore_version(db, article, number=number, actor=user)
    return _with_etag(db, article, response)


@router.get("/search")
def search_articles(
    db: DbSession,
    user: CurrentUser,
    q: Annotated[str, Query(min_length=1, max_length=search.MAX_QUERY)],
    lang: Language | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> SearchResult:
    """Published articles for a question, best first, with highlighted title and snippet."""
    return SearchResult(query=q, items=hits(search.search(db, q, lang=lang, limit=limit)))


@ticket_router.get("/{ticket_id}/suggestions")
def suggestions(
    ticket_id: int,
    db: DbSession,
    user: DeskUser,
    subject: Annotated[str | None, Query(max_length=300)] = None,
    description: Annotated[str | None, Query(max_length=20000)] = None,
    fault_code: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> Suggestions:
    """Top articles for the ticket: subject + description + asset model + fault code. `subject` and
    `description` override the saved text (the page sends what the agent is typing)."""
    ticket = tickets.get_ticket(db, ticket_id)
    context = search.ticket_context(
        db, ticket, subject=subject, description=description, fault_code=fault_code
    )
    return Suggestions(
        ticket_id=ticket.id,
        query=search.suggestion_text(context),
        product_model=context.product_model,
        fault_code=context.fault_code,
        items=hits(
            search.suggest(db, context, limit=limit, typing=subject is not None or description is not None)
        ),
        verdicts=search.verdicts(db, ticket.id),
    )


@ticket_router.post("/{ticket_id}/kb-solution", response_model=FeedbackRead)
def solved(ticket_id: int, body: FeedbackIn, db: DbSession, user: DeskUser) -> FeedbackRead:
    """ "This solved it": the article becomes the ticket's resolution (the ticket is resolved with it)
    and first-contact resolution is recorded when it applies. Repeating it is harmless."""
    row = feedback.mark_solved(
        db, ticket_id=ticket_id, article_id=body.article_id, actor=user, channel=CHANNEL
    )
    return FeedbackRead.model_validate(row)


@ticket_router.post("/{ticket_id}/kb-not-helpful", response_model=FeedbackRead)
def not_helpful(ticket_id: int, body: FeedbackIn, db: DbSession, user: DeskUser) -> FeedbackRead:
    row = feedback.mark_not_helpful(db, ticket_id=ticket_id, article_id=body.article_id, actor=user)
    return FeedbackRead.model_validate(row)


@ticket_router.get("/{ticket_id}/kb-feedback")
def ticket_feedback(ticket_id: int, db: DbSession, user: DeskUser) -> list[FeedbackRead]:
    tickets.get_ticket(db, ticket_id)
    rows = db.scalars(
        select(KbTicketFeedback).where(KbTicketFeedback.ticket_id == ticket_id).order_by(KbTicketFeedback.id)
    )
    return [FeedbackRead.model_validate(r) for r in rows]
