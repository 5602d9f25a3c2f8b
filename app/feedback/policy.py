"""The sending policy from the settings (docs/surveys.md lists the defaults)."""

from __future__ import annotations

from app.platform.config import get_settings
from surveys import SendingPolicy
from surveys.sending import DAY_S


def sending_policy() -> SendingPolicy:
    s = get_settings()
    return SendingPolicy(
        delay_s=s.survey_delay_min * 60,
        cooldown_s=s.survey_cooldown_days * DAY_S,
        reminder_after_s=s.survey_reminder_days * DAY_S,
        expires_after_s=s.survey_expires_days * DAY_S,
    )
