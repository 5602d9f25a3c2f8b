"""The public form behind a survey link: open (records nothing), submit (records once),
unsubscribe. Every outcome is a value the page renders; nothing here raises to the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.feedback import facts, tokens, wording
from app.feedback.policy import sending_policy
from app.models import Account, Contact, Region, Survey, SurveyAnswer, Ticket, WorkOrder
from app.platform import i18n
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.outbox import enqueue
from surveys import TEMPLATES, Answer, FieldError, InvalidAnswer, Template, parse_answer

Outcome = Literal["form", "invalid", "expired", "answered", "cancelled", "recorded", "errors"]


@dataclass(frozen=True)
class About:
    """What the survey asks about, so the customer knows which visit or case: only this survey's
    own work order and ticket (the token names the survey; nothing of any other case)."""

    visit: bool  # a visit (work order) or a case resolved without one
    day: date | None  # local to the visit's region
    reference: str  # "WO-…" or the ticket's number
    subject: str  # the ticket's subject, as the customer reported it


@dataclass(frozen=True)
class Page:
    outcome: Outcome
    survey: Survey | None = None
    template: Template | None = None
    company: str = ""
    errors: tuple[FieldError, ...] = ()
    about: About | None = None
    # the account's: the page, its questions and errors speak it ("": no survey known, a broken link)
    language: str = ""


def about(session: Session, survey: Survey) -> About:
    region = session.get(Region, survey.region_id) if survey.region_id is not None else None
    zone = ZoneInfo(region.timezone if region else get_settings().time_zone)
    ticket = session.get(Ticket, survey.ticket_id)
    order = session.get(WorkOrder, survey.work_order_id) if survey.work_order_id is not None else None
    subject = ticket.subject if ticket else ""
    if order is not None:
        at = order.checked_out_at or order.checked_in_at or order.appointment_start_at
        ref = order.number or (ticket.number if ticket and ticket.number else "")
        return About(True, at.astimezone(zone).date() if at else None, ref or "", subject)
    at = (ticket.resolved_at or ticket.opened_at) if ticket else None
    ref = ticket.number if ticket and ticket.number else ""
    return About(False, at.astimezone(zone).date() if at else None, ref, subject)


UNSUBSCRIBE_MAX_AGE_S = 365 * 24 * 3600  # people unsubscribe from old mails too


def _load(session: Session, token: str, purpose: tokens.Purpose, now: datetime) -> Page:
    policy = sending_policy()
    max_age = UNSUBSCRIBE_MAX_AGE_S if purpose == "unsubscribe" else policy.expires_after_s
    try:
        claim = tokens.read(token, max_age_s=max_age)
    except tokens.BadToken as exc:
        if not exc.expired:
            return Page("invalid")
        expired = session.get(Survey, exc.survey_id) if exc.survey_id is not None else None
        known = wording.language_of(session, expired.account_id) if expired is not None else ""
        return Page("expired", language=known)
    survey = session.get(Survey, claim.survey_id)
    if survey is None or claim.purpose != purpose or survey.sent_at is None:
        return Page("invalid")
    account = session.get(Account, survey.account_id)
    language = account.language if account else i18n.DEFAULT
    template = wording.localized(TEMPLATES[survey.template_id], language)
    page = Page("form", survey, template, account.name if account else "", language=language)
    if purpose == "unsubscribe":
        return page
    page = replace(page, about=about(session, survey))
    if survey.answered_at is not None:
        return replace(page, outcome="answered")
    # A case reopened or cancelled since sending is marked at once (`capture.mark_case`); the
    # job sets `cancelled_at` on its next tick. The link says "no answer needed" from the mark
    # on: an answer in between counted in CSAT and could open a recovery call for a closed case.
    if survey.cancelled_at is not None or survey.case_state != "open":
        return replace(page, outcome="cancelled")
    if now >= survey.sent_at + timedelta(seconds=policy.expires_after_s):
        return replace(page, outcome="expired")
    return page


def open_form(session: Session, token: str, now: datetime | None = None) -> Page:
    """GET: what to show. Reads only — a mail scanner following the link changes nothing."""
    return _load(session, token, "answer", now or utcnow())


def _repeated(
    template: Template, repeated: Mapping[str, Sequence[str]], language: str = i18n.DEFAULT
) -> list[FieldError]:
    """A one-answer question sent more than once (csat=3&csat=5) is refused, not read as the last:
    which one the customer meant is not ours to guess. Chips take many values by design."""
    errors = []
    for q in template.questions:
        sent = repeated.get(q.key) or ()
        if q.kind != "chips" and len(sent) > 1:
            shown = ", ".join(v.strip()[:20] or "(blank)" for v in sent)
            message = f"{q.name} was sent {len(sent)} times ({shown}): please choose one"
            errors.append(
                wording.error(language, template, FieldError(q.key, message, "repeated", str(len(sent))))
            )
    return errors


def _in_order(template: Template, errors: Mapping[str, FieldError]) -> tuple[FieldError, ...]:
    return tuple(errors[q.key] for q in template.questions if q.key in errors)


def submit(
    session: Session,
    token: str,
    form: dict[str, object],
    now: datetime | None = None,
    repeated: Mapping[str, Sequence[str]] | None = None,
) -> Page:
    """POST: validate and record the answer once; a replay finds it answered and changes nothing.
    ``repeated``: the form's fields that came more than once, with every value sent."""
    now = now or utcnow()
    page = _load(session, token, "answer", now)
    if page.outcome != "form":
        return page
    survey, template = page.survey, page.template
    assert survey is not None and template is not None
    twice = {e.field: e for e in _repeated(template, repeated or {}, page.language)}
    try:
        answer = parse_answer({k: v for k, v in form.items() if k not in twice}, template)
    except InvalidAnswer as exc:
        # a repeated field's own message replaces "is required" (it was left out of the parse)
        found = {e.field: wording.error(page.language, template, e) for e in exc.errors}
        return replace(page, outcome="errors", errors=_in_order(template, found | twice))
    if twice:
        return replace(page, outcome="errors", errors=_in_order(template, twice))
    # The guarded update makes two concurrent posts record one answer: only one sees rowcount 1.
    claimed = session.execute(
        update(Survey)
        .where(
            Survey.id == survey.id,
            Survey.answered_at.is_(None),
            Survey.cancelled_at.is_(None),
            Survey.case_state == "open",  # reopened while the customer was typing
        )
        .values(answered_at=now, status="answered", next_check_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        session.expire(survey)
        return _load(session, token, "answer", now)  # answered or cancelled meanwhile: say which
    session.refresh(survey)
    row = record(session, survey, answer, now)
    if row.is_detractor:
        enqueue(session, "fieldline.surveys.open_recovery", answer_id=row.id)
    return replace(page, outcome="recorded")


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
    return replace(page, outcome="recorded")
