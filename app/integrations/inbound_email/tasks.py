"""Celery tasks of the e-mail integration: mailing a ticket's replies (outbound.py) and deleting
old discarded mail from unknown senders (unmatched.py).

Enqueued by name by the desk (`fieldline.replies.deliver`, after the reply's commit) and retried
by the beat (`fieldline.replies.deliver_due`), as visit notices are. The beat (or the embedded
scheduler, which reads the same schedule) runs `fieldline.unmatched.purge` hourly.
"""

from __future__ import annotations

import logging
from typing import Any

from app.integrations.inbound_email import outbound, unmatched
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.mail import get_mailer
from app.platform.worker import celery_app

log = logging.getLogger(__name__)
RELIABLE: dict[str, Any] = {"acks_late": True, "reject_on_worker_lost": True}


@celery_app.task(name="fieldline.replies.deliver", **RELIABLE)
def deliver_reply(delivery_id: int) -> str | None:
    """Mail one reply (claimed first, so a duplicate or retried task sends nothing twice)."""
    with unit_of_work() as session:
        msg = outbound.claim(session, delivery_id)
    if msg is None:
        return None
    error = None
    try:
        get_mailer().send(msg)
    except Exception as exc:  # retried by deliver_due
        log.warning("reply delivery %s failed: %r", delivery_id, exc)
        error = outbound.reason(exc)
    with unit_of_work() as session:
        return outbound.record(session, delivery_id, error)


@celery_app.task(name="fieldline.replies.deliver_due", **RELIABLE)
def deliver_due_replies() -> int:
    """Beat: retry failed sends, lost hand-overs and claims left by a lost worker."""
    with unit_of_work() as session:
        ids = outbound.due_ids(session)
    for i in ids:
        deliver_reply(i)
    return len(ids)


@celery_app.task(name="fieldline.unmatched.purge")
def purge_discarded_mail() -> int:
    """Beat (hourly): delete discarded unmatched mail past UNMATCHED_EMAIL_RETENTION_DAYS."""
    days = get_settings().unmatched_email_retention_days
    with unit_of_work() as session:
        gone = unmatched.purge_discarded(session, now=utcnow(), retention_days=days)
    if gone:
        log.info("deleted %s discarded unmatched mails older than %s days", gone, days)
    return gone
