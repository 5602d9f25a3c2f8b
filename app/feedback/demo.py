"""The demo's loop closed: recovery tickets for the seeded detractors of the last days.

The seed writes six months of answers in bulk, but a recovery ticket is opened by the running
service (`recovery.open_recovery`, a minute after the answer). `fieldline seed` — a composition
root, as the seed may not import this package — calls this afterwards, so the dashboard's
follow-up list and the owners' queues show the recent detractors, each through the real path
(ticket, SLA clock, owner or recovery queue, webhook event). Older detractors are left out: their
follow-up would long be over, and opening thousands at 100 000 customers would slow the seed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.feedback import recovery
from app.models import SurveyAnswer, SurveyRecovery

RECENT = timedelta(days=7)


def open_recent_recoveries(session: Session, *, now: datetime, within: timedelta = RECENT) -> int:
    """Open the missing recovery tickets of detractor answers given in (now − within, now], oldest
    first; returns how many were opened. A second call opens none."""
    answered = SurveyAnswer.answered_at
    ids = session.scalars(
        select(SurveyAnswer.id)
        .outerjoin(SurveyRecovery, SurveyRecovery.answer_id == SurveyAnswer.id)
        .where(
            SurveyAnswer.is_detractor.is_(True),
            answered > now - within,
            answered <= now,
            SurveyRecovery.id.is_(None),
        )
        .order_by(answered, SurveyAnswer.id)
    ).all()
    return sum(1 for answer_id in ids if recovery.open_recovery(session, answer_id) is not None)
