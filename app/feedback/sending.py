"""The periodic sending job: for every survey the job should look at now, ask
`surveys.next_step` what to do and do it (send, remind, skip, cancel, close).

Each survey is decided and mailed in its own transaction, so one bad address does not hold up
the rest. Mail is at-least-once: a crash between the SMTP hand-off and the commit sends again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.feedback import answering, messages, wording
from app.feedback.policy import sending_policy
from app.models import Contact, Survey
from app.platform.db import unit_of_work, utcnow
from app.platform.mail import get_mailer
from surveys import Recipient, Step, SurveyState, next_step

log = logging.getLogger(__name__)
ACTIVE = ("pending", "sent")
BATCH = 500


def due_ids(session: Session, now: datetime, limit: int = BATCH) -> list[int]:
    return list(
        session.scalars(
            select(Survey.id)
            .where(Survey.status.in_(ACTIVE), Survey.next_check_at <= now)
            .order_by(Survey.next_check_at, Survey.id)
            .limit(limit)
        )
    )


def _state(s: Survey) -> SurveyState:
    return SurveyState(
        id=str(s.id),
        contact_id=str(s.contact_id),
        triggered_at=s.triggered_at,
        case_state=s.case_state,
        sent_at=s.sent_at,
        reminders_sent=s.reminders_sent,
        answered_at=s.answered_at,
        cancelled_at=s.cancelled_at,
    )


def _last_sent_to_contact(session: Session, s: Survey) -> datetime | None:
    if s.contact_id is None:
        return None
    return session.scalar(
        select(func.max(Survey.sent_at)).where(Survey.contact_id == s.contact_id, Survey.id != s.id)
    )


def decide(session: Session, s: Survey, now: datetime) -> Step:
    contact = session.get(Contact, s.contact_id) if s.contact_id is not None else None
    recipient = Recipient(
        contact_id=str(s.contact_id),
        email=contact.email if contact else None,
        opted_out=bool(contact and contact.survey_opt_out),
        # deactivated (left the customer): no invitation and no reminder to someone who is gone
        left=bool(contact and not contact.active),
    )
    return next_step(
        _state(s),
        recipient,
        now=now,
        last_sent_to_contact_at=_last_sent_to_contact(session, s),
        policy=sending_policy(),
    )


def _mail(session: Session, s: Survey, *, reminder: bool) -> None:
    contact = session.get(Contact, s.contact_id)
    assert contact is not None and contact.email  # next_step said the contact is reachable
    msg = messages.compose(
        survey_id=s.id,
        template_id=s.template_id,
        to=contact.email,
        contact_name=contact.name,
        # the number the page names too: a visit's WO-… (the one its visit notices carried), else
        # the ticket's T-… (the one its replies carried)
        case_ref=answering.about(session, s).reference or f"#{s.ticket_id}",
        reminder=reminder,
        language=wording.language_of(session, s.account_id),
    )
    get_mailer().send(msg)


def apply(session: Session, s: Survey, step: Step, now: datetime) -> None:
    """Do what `step` says and record it on the row."""
    s.note = f"{step.action}: {step.reason}"[:200]
    if step.action == "wait":
        s.next_check_at = step.at
    elif step.action == "send":
        _mail(session, s, reminder=False)
        s.status, s.sent_at, s.last_mailed_at = "sent", now, now
        s.next_check_at = now
    elif step.action == "remind":
        _mail(session, s, reminder=True)
        s.reminders_sent += 1
        s.last_mailed_at = now
        s.next_check_at = now
    elif step.action == "skip":
        s.status, s.next_check_at = "skipped", None
    elif step.action == "cancel":
        s.status, s.cancelled_at, s.next_check_at = "cancelled", now, None
    else:  # done: answered, expired, reminders used up; an answer may still come until expiry
        s.status = "closed" if s.sent_at is not None else s.status
        s.next_check_at = None


def process(session: Session, survey_id: int, now: datetime) -> str | None:
    s = session.get(Survey, survey_id, with_for_update=True)
    if s is None or s.status not in ACTIVE or s.next_check_at is None or s.next_check_at > now:
        return None  # another tick took it
    step = decide(session, s, now)
    apply(session, s, step, now)
    if step.action in ("send", "remind"):
        # Ask again at once, so the row says when the reminder (or the end) is due.
        after = decide(session, s, now)
        if after.action in ("wait", "done"):
            apply(session, s, after, now)
            s.note = f"{step.action}: {step.reason}"[:200]
    return step.action


def send_due(now: datetime | None = None) -> dict[str, int]:
    """One tick of the job; returns how many surveys took each action."""
    now = now or utcnow()
    with unit_of_work() as session:
        ids = due_ids(session, now)
    done: dict[str, int] = {}
    for survey_id in ids:
        try:
            with unit_of_work() as session:
                action = process(session, survey_id, now)
        except Exception:  # mail relay down, bad row: keep it due, go on with the others
            log.exception("survey %s: sending failed; retried at the next tick", survey_id)
            continue
        if action:
            done[action] = done.get(action, 0) + 1
    return done
