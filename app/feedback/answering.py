"""The public form behind a survey link: open (records nothing), submit (records once),
unsubscribe. Every outcome is a value the page renders; nothing here raises to the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.feedback import facts, tokens
from app.feedback.policy import sending_policy
from app.models import Account, Contact, Survey, SurveyAnswer
from app.platform.db import utcnow
from app.platform.worker import enqueue
from surveys import TEMPLATES, Answer, FieldError, InvalidAnswer, Template, parse_answer

Outcome = Literal["form", "invalid", "expired", "answered", "cancelled", "recorded", "errors"]


@dataclass(frozen=True)
class Page:
    outcome: Outcome
    survey: Survey | None = None
    template: Template | None = None
    company: str = ""
    errors: tuple[FieldError, ...] = ()


UNSUBSCRIBE_MAX_AGE_S = 365 * 24 * 3600  # people unsubscribe from old mails too


def _load(session: Session, token: str, purpose: tokens.Purpose, now: datetime) -> Page:
    policy = sending_policy()
    max_age = UNSUBSCRIBE_MAX_AGE_S if purpose == "unsubscribe" else policy.expires_after_s
    try:
        claim = tokens.read(token, max_age_s=max_age)
    except tokens.BadToken as exc:
        return Page("expired" if exc.expired else "invalid")
    survey = session.get(Survey, claim.survey_id)
    if survey is None or claim.purpose != purpose or survey.sent_at is None:
        return Page("invalid")
    account = session.get(Account, survey.account_id)
    page = Page("form", survey, TEMPLATES[survey.template_id], account.name if account else "")
    if purpose == "unsubscribe":
        return page
    if survey.answered_at is not None:
        return Page("answered", survey, page.template, page.company)
    if survey.cancelled_at is not None:
        return Page("cancelled", survey, page.template, page.company)
    if now >= survey.sent_at + timedelta(seconds=policy.expires_after_s):
        return Page("expired", survey, page.template, page.company)
    return page


def open_form(session: Session, token: str, now: datetime | None = None) -> Page:
    """GET: what to show. Reads only — a mail scanner following the link changes nothing."""
    return _load(session, token, "answer", now or utcnow())


def submit(session: Session, token: str, form: dict[str, object], now: datetime | None = None) -> Page:
    """POST: validate and record the answer once; a replay finds it answered and changes nothing."""
    now = now or utcnow()
    page = _load(session, token, "answer", now)
    if page.outcome != "form":
        return page
    survey, template = page.survey, page.template
    assert survey is not None and template is not None
    try:
        answer = parse_answer(form, template)
    except InvalidAnswer as exc:
        return Page("errors", survey, template, page.company, exc.errors)
    # The guarded update makes two concurrent posts record one answer: only one sees rowcount 1.
    claimed = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.answered_at.is_(None))
        .values(answered_at=now, status="answered", next_check_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        return Page("answered", survey, template, page.company)
    session.refresh(survey)
    row = record(session, survey, answer, now)
    if row.is_detractor:
        enqueue(session, "fieldline.surveys.open_recovery", answer_id=row.id)
    return Page("recorded", survey, template, page.company)


def record(session: Session, survey: Survey, answer: Answer, at: datetime) -> SurveyAnswer:
    """Store the answer with the survey's context and the visit facts as they are now."""
    joined = facts.for_answer(session, ticket_id=survey.ticket_id, work_order_id=survey.work_order_id, now=at)
    row = SurveyAnswer(
        survey_id=survey.id,
        template_id=survey.template_id,
        contact_id=survey.contact_id,
        answered_at=at,
        csat=answer.csat,
        nps=answer.nps,
        ces=answer.ces,
        solved=answer.solved,
        reasons=sorted(answer.reasons),
        comment=answer.comment,
        is_detractor=answer.is_detractor,
        ticket_id=survey.ticket_id,
        work_order_id=survey.work_order_id,
        engineer_id=survey.engineer_id,
        account_id=survey.account_id,
        site_id=survey.site_id,
        region_id=survey.region_id,
        asset_id=survey.asset_id,
        product_model_id=survey.product_model_id,
        tier=survey.tier,
        channel=survey.channel,
        **joined.as_dict(),
    )
    session.add(row)
    session.flush()
    return row


def open_unsubscribe(session: Session, token: str, now: datetime | None = None) -> Page:
    return _load(session, token, "unsubscribe", now or utcnow())


def unsubscribe(session: Session, token: str, now: datetime | None = None) -> Page:
    """POST: the contact gets no more surveys (pending ones are skipped by the job)."""
    page = _load(session, token, "unsubscribe", now or utcnow())
    if page.outcome != "form" or page.survey is None:
        return page
    if page.survey.contact_id is not None:
        contact = session.get(Contact, page.survey.contact_id)
        if contact is not None:
            contact.survey_opt_out = True
    return Page("recorded", page.survey, page.template, page.company)
