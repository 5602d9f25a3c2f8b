"""Post-service surveys, their answers, and the recovery tickets opened for unhappy answers.

Both the survey and the answer carry the case's context (ticket, visit, engineer, account, site,
region, asset, product model, tier, channel) copied at trigger time, so that every KPI slice is a
plain filter on one table and an answer stays explained even if the ticket is edited later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base, utcnow

# The visit facts stored with each answer, by name (docs/surveys.md, "Visit facts").
VISIT_FACT_COLUMNS = (
    "minutes_late",
    "late",
    "repeat_visit",
    "part_missing",
    "duration_overrun",
    "sla_breach",
    "first_time_fix",
)


class SurveyContext:
    """The columns a survey and its answer share: what the answer is about."""

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_order.id", ondelete="CASCADE"))
    engineer_id: Mapped[int | None] = mapped_column(ForeignKey("engineer.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    asset_id: Mapped[int | None] = mapped_column(ForeignKey("asset.id"))
    product_model_id: Mapped[int | None] = mapped_column(ForeignKey("product_model.id"))
    tier: Mapped[str] = mapped_column(String(20), default="standard")  # the ticket's SLA tier
    channel: Mapped[str] = mapped_column(String(10), default="")  # the ticket's channel


class Survey(SurveyContext, Base):
    """One survey for one case. `status` is the sending job's bookkeeping:
    pending → sent → (closed) | skipped | cancelled; answering is judged by `answered_at`,
    `cancelled_at` and the token's expiry, not by status."""

    __tablename__ = "survey"
    __table_args__ = (
        Index("ix_survey_status_check", "status", "next_check_at"),
        Index("ix_survey_contact_sent", "contact_id", "sent_at"),
        Index("ix_survey_work_order", "work_order_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # "visit:<work order id>" or "ticket:<ticket id>:<resolution time>": one survey per trigger.
    trigger_key: Mapped[str] = mapped_column(String(80), unique=True)
    trigger: Mapped[str] = mapped_column(String(24))  # visit_checked_out | ticket_resolved
    template_id: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    triggered_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default="pending")
    case_state: Mapped[str] = mapped_column(String(12), default="open")  # open | cancelled | reopened
    next_check_at: Mapped[datetime | None]  # when the job looks again; None: never
    sent_at: Mapped[datetime | None]
    reminders_sent: Mapped[int] = mapped_column(default=0)
    last_mailed_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(200), default="")  # the last sending decision, in words
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyAnswer(SurveyContext, Base):
    """A customer's answer, with the visit facts joined at answer time (docs/kpis.md)."""

    __tablename__ = "survey_answer"
    __table_args__ = (
        Index("ix_survey_answer_account_at", "account_id", "answered_at"),
        Index("ix_survey_answer_at", "answered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), unique=True)
    template_id: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)
    csat: Mapped[int | None]
    nps: Mapped[int | None]
    ces: Mapped[int | None]
    solved: Mapped[bool | None]
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    comment: Mapped[str] = mapped_column(Text, default="")
    is_detractor: Mapped[bool] = mapped_column(default=False)
    # Visit facts (None: not known, e.g. a desk-only resolution has no arrival).
    minutes_late: Mapped[float | None]
    late: Mapped[bool | None]
    repeat_visit: Mapped[bool | None]
    part_missing: Mapped[bool | None]  # a part was missing or a second trip was needed
    duration_overrun: Mapped[bool | None]
    sla_breach: Mapped[bool | None]
    first_time_fix: Mapped[bool | None]  # None until the 30-day return window has passed


class SurveyRecovery(Base):
    """The follow-up of a detractor: a ticket owned by the account's owner, or in the recovery
    queue (`owner_user_id` None) that managers see; closing the ticket records the outcome."""

    __tablename__ = "survey_recovery"
    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("survey_answer.id", ondelete="CASCADE"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    queue: Mapped[str] = mapped_column(String(20), default="owner")  # owner | recovery
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # resolved | closed
    outcome_note: Mapped[str] = mapped_column(Text, default="")
