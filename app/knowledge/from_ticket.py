"""'Create an article from this ticket': a draft prefilled from what the ticket already says."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.knowledge.articles import create_article
from app.knowledge.search import ticket_context
from app.models import ArticleStatus, KbArticle, TicketEvent, TicketStatus, User
from app.platform.db import utcnow


def resolution_of(session: Session, ticket_id: int) -> str:
    """The text of the ticket's latest resolution ('' before it was resolved)."""
    found = session.scalar(
        select(TicketEvent.body)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "status")
        .where(TicketEvent.data["to"].as_string() == TicketStatus.resolved.value)
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(1)
    )
    return found or ""


def prefill(session: Session, ticket_id: int) -> dict[str, Any]:
    """Title from the subject, symptom from the description, the asset's model, a fault code found
    in the text, and the resolution as the body and its lines as the steps."""
    ticket = tickets.get_ticket(session, ticket_id)
    context = ticket_context(session, ticket)
    resolution = resolution_of(session, ticket_id)
    steps = [line.strip(" -*0123456789.").strip() for line in resolution.splitlines()]
    return {
        "title": ticket.subject,
        "symptom": ticket.description,
        "body": resolution,
        "resolution_steps": [s for s in steps if s],
        "product_models": [context.product_model] if context.product_model else [],
        "fault_codes": [context.fault_code] if context.fault_code else [],
        "tags": [ticket.category] if ticket.category else [],
        "status": "draft",
    }


def open_draft(session: Session, ticket_id: int) -> KbArticle | None:
    """The draft an earlier "Create an article from this ticket" made, while it is still a draft."""
    ids = session.scalars(
        select(TicketEvent.data["article_id"].as_integer())
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "kb_draft")
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
    )
    for article_id in ids:
        article = session.get(KbArticle, article_id)
        if article is not None and article.status == ArticleStatus.draft.value:
            return article
    return None


def draft_from_ticket(session: Session, *, ticket_id: int, actor: User) -> tuple[KbArticle, bool]:
    """(the draft, whether it is new). A second click reopens the ticket's draft instead of making a
    twin; once that draft is published or archived, a click starts a new one. The ticket's timeline
    records the draft."""
    existing = open_draft(session, ticket_id)
    if existing is not None:
        return existing, False
    article = create_article(session, values=prefill(session, ticket_id), actor=actor)
    tickets.add_event(
        session,
        tickets.get_ticket(session, ticket_id),
        "kb_draft",
        actor=actor,
        channel="desk",
        at=utcnow(),
        body=article.title,
        data={"article_id": article.id},
    )
    return article, True
