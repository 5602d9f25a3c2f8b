"""When to send a survey, remind, or drop it: pure functions over plain data.

The app stores one row per survey and, from a periodic job, asks :func:`next_step` what to do with
each pending one; it then does that (sends, stamps ``sent_at``, cancels) and stores the result.
Nothing here reads a clock: ``now`` is always passed in. Times must be timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

HOUR_S = 3600
DAY_S = 24 * HOUR_S

# Case states after which a pending survey must not go out: asking "how was it?" about a case
# the customer cancelled, or one that is open again because it was not fixed, insults them.
CANCELLING_CASE_STATES = frozenset({"cancelled", "reopened"})


@dataclass(frozen=True, slots=True)
class SendingPolicy:
    delay_s: int = 2 * HOUR_S  # after the trigger (check-out, resolution): let the engineer leave
    cooldown_s: int = 30 * DAY_S  # at most one survey per contact in this long
    reminder_after_s: int = 3 * DAY_S  # one reminder this long after sending, if unanswered
    reminders: int = 1  # 0 disables reminders
    expires_after_s: int = 14 * DAY_S  # after sending; the token's lifetime, no reminder past it


@dataclass(frozen=True, slots=True)
class Recipient:
    contact_id: str
    email: str | None
    opted_out: bool = False
    left: bool = False  # no longer the customer's person (the CRM deactivated them)


@dataclass(frozen=True, slots=True)
class SurveyState:
    """What the app knows about one survey row."""

    id: str
    contact_id: str
    triggered_at: datetime  # visit check-out or ticket resolution
    case_state: str = "open"  # the ticket's state now; see CANCELLING_CASE_STATES
    sent_at: datetime | None = None
    reminders_sent: int = 0
    answered_at: datetime | None = None
    cancelled_at: datetime | None = None


Action = Literal["wait", "send", "remind", "skip", "cancel", "done"]


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    reason: str  # a sentence for the survey's history
    at: datetime | None = None  # for "wait": when to look again


def due_at(survey: SurveyState, policy: SendingPolicy = SendingPolicy()) -> datetime:
    """When the first mail is due."""
    return survey.triggered_at + timedelta(seconds=policy.delay_s)


def reminder_due_at(survey: SurveyState, policy: SendingPolicy = SendingPolicy()) -> datetime | None:
    if survey.sent_at is None or survey.reminders_sent >= policy.reminders:
        return None
    return survey.sent_at + timedelta(seconds=policy.reminder_after_s * (survey.reminders_sent + 1))


def in_cooldown(
    last_sent_to_contact_at: datetime | None, at: datetime, policy: SendingPolicy = SendingPolicy()
) -> bool:
    """True when another survey went to this contact less than the cooldown before ``at``."""
    if last_sent_to_contact_at is None:
        return False
    return at - last_sent_to_contact_at < timedelta(seconds=policy.cooldown_s)


def _unreachable(recipient: Recipient) -> str | None:
    if recipient.left:
        return "the contact has left the customer"
    if recipient.opted_out:
        return "the contact opted out of surveys"
    if recipient.email is None or "@" not in recipient.email.strip():
        return "the contact has no e-mail address"
    return None


def next_step(
    survey: SurveyState,
    recipient: Recipient,
    *,
    now: datetime,
    last_sent_to_contact_at: datetime | None,
    policy: SendingPolicy = SendingPolicy(),
) -> Step:
    """What to do with ``survey`` at ``now``.

    ``last_sent_to_contact_at`` is the latest first-send time of the contact's *other* surveys
    (reminders do not count). Outcomes: "send" / "remind" now; "wait" until ``Step.at``; "skip"
    (never sent: the contact left, no address, opted out, cooldown); "cancel" (the case was
    cancelled or reopened); "done" (answered, expired, or reminders used up — nothing more will happen).
    """
    if recipient.contact_id != survey.contact_id:
        raise ValueError(f"recipient {recipient.contact_id} is not survey {survey.id}'s contact")
    if survey.answered_at is not None:
        return Step("done", "answered")
    if survey.cancelled_at is not None:
        return Step("done", "cancelled earlier")
    if survey.case_state in CANCELLING_CASE_STATES:
        return Step("cancel", f"the case was {survey.case_state}")
    unreachable = _unreachable(recipient)

    if survey.sent_at is None:
        if unreachable:
            return Step("skip", unreachable)
        due = due_at(survey, policy)
        if now < due:
            return Step("wait", "waiting for the delay after the visit or resolution", due)
        if in_cooldown(last_sent_to_contact_at, now, policy):
            return Step("skip", "the contact had a survey in the cooldown period")
        return Step("send", "due")

    # Sent and unanswered: at most the policy's reminders, none after the link expired.
    if unreachable:
        return Step("done", f"no reminder: {unreachable}")
    expires = survey.sent_at + timedelta(seconds=policy.expires_after_s)
    reminder = reminder_due_at(survey, policy)
    if reminder is None or reminder >= expires:
        return Step("done", "no reminder left")
    if now >= expires:
        return Step("done", "expired")
    if now < reminder:
        return Step("wait", "waiting to remind", reminder)
    return Step("remind", "unanswered after the reminder delay")
