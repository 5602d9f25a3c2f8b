"""Sending rules: delay, cooldown, one reminder, never to the unreachable, cancelled with the case."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from surveys import Recipient, SendingPolicy, Step, SurveyState, due_at, next_step

T0 = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)  # visit checked out
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)
ANNA = Recipient("c1", "anna@example.com")
SURVEY = SurveyState("s1", "c1", triggered_at=T0)


DEFAULT = SendingPolicy()


def step(
    survey: SurveyState = SURVEY,
    who: Recipient = ANNA,
    *,
    now: datetime,
    last: datetime | None = None,
    policy: SendingPolicy = DEFAULT,
) -> Step:
    return next_step(survey, who, now=now, last_sent_to_contact_at=last, policy=policy)


def test_waits_for_the_default_two_hour_delay() -> None:
    assert due_at(SURVEY) == T0 + 2 * H
    early = step(now=T0 + 2 * H - S)
    assert (early.action, early.at) == ("wait", T0 + 2 * H)
    assert step(now=T0 + 2 * H).action == "send"
    assert step(now=T0 + 30 * H).action == "send"  # the job was down: still send, late
    assert step(now=T0 + 30 * 60 * S, policy=SendingPolicy(delay_s=1800)).action == "send"


def test_cooldown_per_contact() -> None:
    now = T0 + 2 * H
    assert step(now=now, last=now - 29 * D).action == "skip"
    assert step(now=now, last=now - 30 * D).action == "send"  # exactly 30 days later is allowed
    assert step(now=now, last=now - 6 * D, policy=SendingPolicy(cooldown_s=7 * 86400)).action == "skip"
    assert step(now=now, last=now - 8 * D, policy=SendingPolicy(cooldown_s=7 * 86400)).action == "send"


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        (Recipient("c1", "anna@example.com", left=True), "the contact has left the customer"),
        (Recipient("c1", "anna@example.com", opted_out=True), "the contact opted out of surveys"),
        (Recipient("c1", None), "the contact has no e-mail address"),
        (Recipient("c1", "  "), "the contact has no e-mail address"),
    ],
)
def test_never_to_an_unreachable_contact(who: Recipient, reason: str) -> None:
    s = step(who=who, now=T0 + 3 * H)
    assert (s.action, s.reason) == ("skip", reason)
    # Not even while waiting for the delay: the decision is final, the row can be closed.
    assert step(who=who, now=T0).action == "skip"


@pytest.mark.parametrize("state", ["cancelled", "reopened"])
def test_a_cancelled_or_reopened_case_cancels_the_survey(state: str) -> None:
    pending = replace(SURVEY, case_state=state)
    assert step(pending, now=T0 + H).action == "cancel"
    sent = replace(SURVEY, case_state=state, sent_at=T0 + 2 * H)
    assert step(sent, now=T0 + 4 * D).action == "cancel"  # no reminder either
    assert step(replace(SURVEY, cancelled_at=T0 + H), now=T0 + 4 * D).action == "done"


def test_one_reminder_after_three_days() -> None:
    sent = replace(SURVEY, sent_at=T0 + 2 * H)
    waiting = step(sent, now=T0 + 2 * H + 3 * D - S)
    assert (waiting.action, waiting.at) == ("wait", T0 + 2 * H + 3 * D)
    assert step(sent, now=T0 + 2 * H + 3 * D).action == "remind"
    reminded = replace(sent, reminders_sent=1)
    assert step(reminded, now=T0 + 5 * D).action == "done"  # only one
    # An answered survey is done; a policy can switch reminders off.
    assert step(replace(sent, answered_at=T0 + D), now=T0 + 4 * D).action == "done"
    assert step(sent, now=T0 + 4 * D, policy=SendingPolicy(reminders=0)).action == "done"


def test_no_reminder_after_opt_out_or_expiry() -> None:
    sent = replace(SURVEY, sent_at=T0 + 2 * H)
    opted = Recipient("c1", "anna@example.com", opted_out=True)
    assert step(sent, opted, now=T0 + 4 * D).action == "done"
    left = step(sent, Recipient("c1", "anna@example.com", left=True), now=T0 + 4 * D)
    assert (left.action, left.reason) == ("done", "no reminder: the contact has left the customer")
    short = SendingPolicy(expires_after_s=2 * 86400)  # link dead before the reminder would go
    assert step(sent, now=T0 + 4 * D, policy=short).action == "done"


def test_wrong_recipient_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        step(who=Recipient("c2", "bob@example.com"), now=T0)
