"""Closing the loop: a detractor's answer opens a recovery ticket, and closing that ticket
records the outcome.

The ticket is owned by the account's owner (`Account.owner_user_id`) if that user can still take
it (an active agent, dispatcher or manager: `routed_owner`); an account without one, or whose owner
was deactivated, leaves it unassigned in the recovery queue (category "recovery") that managers
see. The ticket carries the answer and the visit facts in words, so whoever calls the customer
knows why.
A recovery ticket is never surveyed itself (capture skips category "recovery").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.customers.owner import OWNER_ROLES
from app.desk.customers.view360 import RECOVERY_CATEGORY
from app.desk.tickets import service as tickets
from app.models import Account, Survey, SurveyAnswer, SurveyRecovery, Ticket, TicketEvent, User
from app.models.feedback import VISIT_FACT_COLUMNS
from app.platform.db import utcnow
from app.platform.events import emit
from surveys import REASON_CHIPS, TEMPLATES

CATEGORY = RECOVERY_CATEGORY
PRIORITY = "P2"  # a customer waiting to hear back; not an outage


def reason_labels(template_id: str | None) -> dict[str, str]:
    """Reason code → the words the customer ticked ("not_fixed" → "The problem is not fixed").

    The survey's own template first (its chips are what the customer saw); the standard chips for
    an answer whose template is gone. A code neither knows is shown as stored.
    """
    labels = {c.code: c.label for c in REASON_CHIPS}
    template = TEMPLATES.get(template_id or "")
    question = template.question("reasons") if template else None
    if question is not None:
        labels.update({c.code: c.label for c in question.chips})
    return labels


def describe(answer: SurveyAnswer, case: Ticket | None, labels: Mapping[str, str] | None = None) -> str:
    """The answer and the visit facts in words; `labels` names the reasons (`reason_labels`)."""
    labels = reason_labels(None) if labels is None else labels
    parts = [f"Survey answer on {case.number if case else f'ticket #{answer.ticket_id}'}:"]
    if answer.csat is not None:
        parts.append(f"- satisfaction {answer.csat}/5")
    if answer.nps is not None:
        parts.append(f"- recommendation {answer.nps}/10")
    if answer.ces is not None:
        parts.append(f"- effort {answer.ces}/7")
    if answer.solved is not None:
        parts.append(f"- solved: {'yes' if answer.solved else 'no'}")
    if answer.reasons:
        parts.append(f"- what went wrong: {'; '.join(labels.get(r, r) for r in answer.reasons)}")
    if answer.comment:
        parts.append(f"- comment: {answer.comment}")
    parts.append("Visit facts:")
    if answer.minutes_late is not None:
        parts.append(f"- arrival: {answer.minutes_late:.0f} min after the promised window")
    for key, text in (
        ("repeat_visit", "repeat visit"),
        ("part_missing", "part missing or a second trip"),
        ("duration_overrun", "took longer than planned"),
        ("sla_breach", "SLA breached"),
        ("first_time_fix", "fixed first time"),
    ):
        value = getattr(answer, key)
        if value is not None:
            parts.append(f"- {text}: {'yes' if value else 'no'}")
    return "\n".join(parts)


def routed_owner(session: Session, account: Account | None) -> int | None:
    """The account's owner if they can still call the customer back, else None (the recovery
    queue). A deactivated account keeps owning its customers until an admin or manager gives them
    another owner, and a ticket assigned to it would be seen by nobody."""
    if account is None or account.owner_user_id is None:
        return None
    owner = session.get(User, account.owner_user_id)
    if owner is None or not owner.is_active or owner.role not in OWNER_ROLES:
        return None
    return owner.id


def _facts(answer: SurveyAnswer) -> dict[str, Any]:
    return {k: getattr(answer, k) for k in VISIT_FACT_COLUMNS}


def open_recovery(session: Session, answer_id: int) -> SurveyRecovery | None:
    """Open the recovery ticket for a detractor's answer; a second call finds it and does nothing."""
    existing = session.scalar(select(SurveyRecovery).where(SurveyRecovery.answer_id == answer_id))
    if existing is not None:
        return existing
    answer = session.get(SurveyAnswer, answer_id)
    if answer is None or not answer.is_detractor:
        return None
    account = session.get(Account, answer.account_id)
    case = session.get(Ticket, answer.ticket_id)
    owner = routed_owner(session, account)
    survey = session.get(Survey, answer.survey_id)
    ticket = tickets.create_ticket(
        session,
        account_id=answer.account_id,
        contact_id=answer.contact_id,
        asset_id=answer.asset_id,
        subject=f"Unhappy customer: follow up on {case.number if case else 'a survey answer'}",
        description=describe(answer, case, reason_labels(survey.template_id if survey else None)),
        category=CATEGORY,
        priority=PRIORITY,
        # Channel has no "survey" value (adding one is a DB enum migration): the answer came in
        # through the survey's web form, so "web" is the nearest true one; the follow-up list
        # says "from the survey answer on <ticket>" and the subject names that ticket.
        channel="web",
        actor=None,
        event_data={"survey_answer_id": answer.id},
    )
    ticket.assignee_id = owner
    rec = SurveyRecovery(
        answer_id=answer.id,
        ticket_id=ticket.id,
        account_id=answer.account_id,
        owner_user_id=owner,
        queue="owner" if owner else "recovery",
        facts=_facts(answer),
        opened_at=utcnow(),
    )
    session.add(rec)
    session.flush()
    emit(
        session,
        "survey.detractor",
        {
            "answer_id": answer.id,
            "survey_id": answer.survey_id,
            "account_id": answer.account_id,
            "ticket_id": answer.ticket_id,
            "work_order_id": answer.work_order_id,
            "recovery_ticket_id": ticket.id,
            "recovery_ticket_number": ticket.number,
            "owner_user_id": owner,
            "csat": answer.csat,
            "nps": answer.nps,
            "solved": answer.solved,
            "reasons": answer.reasons,
            "template": survey.template_id if survey else None,
            "facts": rec.facts,
        },
    )
    return rec


def on_ticket_done(session: Session, ticket: Ticket) -> None:
    """A recovery ticket was resolved or closed: record the outcome (the last status reason)."""
    rec = session.scalar(select(SurveyRecovery).where(SurveyRecovery.ticket_id == ticket.id))
    if rec is None or rec.closed_at is not None:
        return
    rec.closed_at = ticket.resolved_at or ticket.closed_at or utcnow()
    rec.outcome = ticket.status
    rec.outcome_note = _last_words(session, ticket)
    emit(
        session,
        "survey.recovery_closed",
        {"recovery_id": rec.id, "ticket_id": ticket.id, "outcome": rec.outcome, "note": rec.outcome_note},
    )


def _last_words(session: Session, ticket: Ticket) -> str:
    """The reason given with the status change, else the last reply or note."""
    ev = session.scalar(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(("status", "reply", "note")))
        .where(TicketEvent.body != "")
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(1)
    )
    return ev.body[:2000] if ev else ""
