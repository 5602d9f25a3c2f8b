"""Knowledge pages: an article, and the ticket page's knowledge actions (page forms with CSRF: the
API refuses changes made with the page cookie).

- ``POST /desk/tickets/{id}/kb/{article_id}/solved``: "This solved it" (resolves the ticket with the
  article; first-contact resolution recorded when it applies);
- ``POST /desk/tickets/{id}/kb/{article_id}/not-helpful``;
- ``POST /desk/tickets/{id}/kb-article``: "Create an article from this ticket" (a prefilled draft).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.knowledge import articles, feedback, from_ticket, search
from app.knowledge.markdown import render_markdown
from app.models import KbArticle, KbTicketFeedback, Ticket
from app.platform.errors import AppError, Forbidden
from app.web.messages import page_error
from app.web.shared import DeskPageUser, PageDb, PageRoute, PageUser, error_page, render, require_csrf

router = APIRouter(route_class=PageRoute)
CHANNEL = "desk"


def ticket_panel(db: Session, ticket: Ticket) -> dict[str, Any]:
    """The suggestions panel of the ticket page, rendered on the server (it works without JS; the
    script redraws it as the agent types)."""
    context = search.ticket_context(db, ticket)
    solved = db.query(KbTicketFeedback).filter_by(ticket_id=ticket.id, verdict="solved").one_or_none()
    return {
        "suggestions": search.suggest(db, context),
        "product_model": context.product_model,
        "fault_code": context.fault_code,
        "verdicts": search.verdicts(db, ticket.id),
        "solved": solved,
    }


@router.post("/desk/tickets/{ticket_id}/kb/{article_id}/{verdict}", response_model=None)
def record_verdict(
    ticket_id: int,
    article_id: int,
    verdict: Literal["solved", "not-helpful"],
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """ "This solved it" (``solved``) or "Not helpful" (``not-helpful``) for a suggested article."""
    require_csrf(request, csrf)
    try:
        if verdict == "solved":
            row = feedback.mark_solved(
                db, ticket_id=ticket_id, article_id=article_id, actor=user, channel=CHANNEL
            )
            done = "kb_fcr" if row.first_contact else "kb_solved"
        else:
            feedback.mark_not_helpful(db, ticket_id=ticket_id, article_id=article_id, actor=user)
            done = "kb_not_helpful"
    except AppError as exc:
        db.rollback()
        return error_page(request, exc.status_code, "Not saved", page_error(exc))
    db.commit()  # the browser follows the redirect at once and must see the change
    return RedirectResponse(f"/desk/tickets/{ticket_id}?done={done}#kb-title", status_code=303)


@router.post("/desk/tickets/{ticket_id}/kb-article", response_model=None)
def article_from_ticket(
    ticket_id: int, request: Request, db: PageDb, user: DeskPageUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    if not articles.can_write(user):
        raise Forbidden("Writing knowledge articles needs one of the roles: admin, agent, manager.")
    article = from_ticket.draft_from_ticket(db, ticket_id=ticket_id, actor=user)
    db.commit()
    return RedirectResponse(f"/kb/articles/{article.id}?done=draft", status_code=303)


@router.get("/kb/articles/{article_id}")
def article_page(
    article_id: int, request: Request, db: PageDb, user: PageUser, done: str = ""
) -> HTMLResponse:
    """One article, its Markdown rendered safely; engineers see published articles only (else 404)."""
    article = articles.get_article(db, article_id, reader=user)
    flash = (
        "Draft created from the ticket: complete it through the API (PATCH /api/v1/kb/articles/"
        f"{article.id}) and publish it."
        if done == "draft"
        else ""
    )
    return render(
        request,
        "kb/article.html",
        {
            "nav": "route" if user.role == "engineer" else "search",
            "article": article,
            "body_html": render_markdown(article.body),
            "flash": flash,
        },
    )


def visit_articles(db: Session, ticket: Ticket | None) -> list[KbArticle]:
    """The published articles for the visit's asset model and the ticket's fault code."""
    if ticket is None:
        return []
    context = search.ticket_context(db, ticket)
    return search.for_visit(db, product_model=context.product_model, fault_code=context.fault_code)
