"""An agent's verdict on a suggested article: "This solved it" (the ticket's resolution) or "Not helpful".

"This solved it" resolves the ticket with the article's resolution (through the desk's own
transition, so timeline, SLA, e-mail and webhooks are the same as a typed resolution) and records
whether that was a first-contact resolution (docs/kpis.md, FCR): no visit, at most one human contact
so far (the call the agent is on), never resolved before. Both verdicts count towards the article's
proven boost, which the index picks up as an article change.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.desk.tickets.status import DONE
from app.knowledge.articles import get_article
from app.knowledge.index import mark_changed
from app.models import (
    Account,
    ArticleVisibility,
    KbArticle,
    KbTicketFeedback,
    Ticket,
    TicketEvent,
    TicketStatus,
    User,
    WorkOrder,
)
from app.platform import audit, i18n
from app.platform.db import utcnow
from app.platform.errors import Conflict

HUMAN_CONTACT_EVENTS = ("reply", "call", "appointment_confirmed")


def is_first_contact(session: Session, ticket: Ticket) -> bool:
    """Would resolving now be a first-contact resolution? No visit ever, at most one human contact
    logged (the call the agent is on), and never resolved before (a reopened ticket is not)."""
    visits = session.scalar(
        select(func.count()).select_from(WorkOrder).where(WorkOrder.ticket_id == ticket.id)
    )
    contacts = session.scalar(
        select(func.count())
        .select_from(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(HUMAN_CONTACT_EVENTS))
    )
    resolved_before = session.scalar(
        select(func.count())
        .select_from(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "status")
        .where(TicketEvent.data["to"].as_string() == TicketStatus.resolved.value)
    )
    return not visits and (contacts or 0) <= 1 and not resolved_before


def resolution_text(article: KbArticle, language: str = i18n.DEFAULT) -> str:
    """The resolution the customer is e-mailed, in the customer's language (the mail around it is:
    a German customer got "Guten Tag" and an English line). Only a customer-visible article's title
    and steps go out: an internal one is written for agents ("ask the customer to read the inlet
    temperature"). The steps stay as the article wrote them."""
    if article.visibility != ArticleVisibility.customer.value:
        return i18n.text(language, "kb.resolved.internal", id=article.id)
    steps = "\n".join(f"{i}. {step}" for i, step in enumerate(article.resolution_steps, 1))
    line = i18n.text(language, "kb.resolved.article", id=article.id, title=article.title)
    return line + (f"\n{steps}" if steps else "")


def _language(session: Session, account_id: int) -> str:
    """The customer's language, which the resolution mail is written in."""
    return session.scalar(select(Account.language).where(Account.id == account_id)) or i18n.DEFAULT


def _count(session: Session, article_id: int, column: str) -> None:
    # A core UPDATE: votes are not an edit, so the article's ETag (what a writer based edits on) stays.
    target = getattr(KbArticle, column)
    session.execute(update(KbArticle).where(KbArticle.id == article_id).values({column: target + 1}))
    mark_changed(session, article_id)


def mark_solved(
    session: Session, *, ticket_id: int, article_id: int, actor: User, channel: str
) -> KbTicketFeedback:
    ticket = tickets.get_ticket(session, ticket_id)
    article = get_article(session, article_id, reader=actor)
    existing = session.scalar(
        select(KbTicketFeedback).where(
            KbTicketFeedback.ticket_id == ticket.id, KbTicketFeedback.verdict == "solved"
        )
    )
    if existing is not None:
        if existing.article_id == article.id:
            return existing  # a repeated click: recorded once
        raise Conflict(
            f"Ticket {ticket.number} is already linked to knowledge article KB-{existing.article_id} as its "
            "resolution."
        )
    if article.status != "published":
        # A page left open while someone unpublished the article: the customer's resolution e-mail
        # would quote a draft, or a fix withdrawn as wrong.
        raise Conflict(
            f"Knowledge article KB-{article.id} is {article.status}, no longer published: it cannot be "
            f"ticket {ticket.number}'s resolution. Reload the suggestions and choose another."
        )
    first_contact = ticket.status not in DONE and is_first_contact(session, ticket)
    if ticket.status not in DONE:
        if ticket.status == TicketStatus.new.value:  # new → resolved is not a move; open it first
            tickets.transition(
                session,
                ticket_id=ticket.id,
                to="open",
                reason="answered from the knowledge base",
                actor=actor,
                channel=channel,
            )
        tickets.transition(
            session,
            ticket_id=ticket.id,
            to="resolved",
            reason=resolution_text(article, _language(session, ticket.account_id)),
            actor=actor,
            channel=channel,
        )
    row = KbTicketFeedback(
        ticket_id=ticket.id,
        article_id=article.id,
        verdict="solved",
        first_contact=first_contact,
        actor_id=actor.id,
    )
    session.add(row)
    tickets.add_event(
        session,
        ticket,
        "kb_solved",
        actor=actor,
        channel=channel,
        at=utcnow(),
        body=article.title,
        data={"article_id": article.id, "first_contact": first_contact},
    )
    _count(session, article.id, "solved_count")
    audit.record(session, actor, "ticket", ticket.id, "kb_solved", {"article_id": [None, article.id]})
    session.flush()
    return row


def mark_not_helpful(session: Session, *, ticket_id: int, article_id: int, actor: User) -> KbTicketFeedback:
    ticket = tickets.get_ticket(session, ticket_id)
    article = get_article(session, article_id, reader=actor)
    existing = session.scalar(
        select(KbTicketFeedback).where(
            KbTicketFeedback.ticket_id == ticket.id,
            KbTicketFeedback.article_id == article.id,
            KbTicketFeedback.verdict == "not_helpful",
        )
    )
    if existing is not None:
        return existing
    row = KbTicketFeedback(
        ticket_id=ticket.id, article_id=article.id, verdict="not_helpful", actor_id=actor.id
    )
    session.add(row)
    _count(session, article.id, "not_helpful_count")
    session.flush()
    return row
