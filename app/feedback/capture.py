"""Create a survey row when a visit ends or a ticket is resolved; cancel it when the case is
cancelled or reopened. Called from the session hooks in `app.feedback.triggers`.

The tier and template come from `surveys.survey_for` (trigger × the account's tier × the ticket's
channel; the demo seed calls it too); no template, no row. A ticket resolved by a visit is asked
about once, by the visit's survey: the resolution survey is only for cases the desk closed without
anyone on site.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.feedback.recovery import CATEGORY as RECOVERY
from app.field.workorders.visits import REPORTED
from app.models import Account, Asset, Site, Survey, Ticket, WorkOrder
from app.platform.db import utcnow
from surveys import Template, survey_for
from surveys.questions import Trigger

VISIT_ENDED = REPORTED  # a visit survey follows the filed report, fixed or not


def choose(
    session: Session, trigger: Trigger, ticket: Ticket, work_order: WorkOrder | None
) -> tuple[dict[str, object], Template | None]:
    """The survey row's copied context and its template (None: no survey) for this case."""
    account = session.get(Account, ticket.account_id)
    tier, template = survey_for(trigger, account.tier if account else None, ticket.channel)
    return {**_context(session, ticket, work_order), "tier": tier}, template


def _context(session: Session, ticket: Ticket, work_order: WorkOrder | None) -> dict[str, object]:
    asset_id = work_order.asset_id if work_order and work_order.asset_id else ticket.asset_id
    asset = session.get(Asset, asset_id) if asset_id else None
    account = session.get(Account, ticket.account_id)
    # A ticket's region as the KPIs read it (records.Joins): the visit's, else the site's, else the
    # account's. The account's alone left answers on tickets of a site in a region but an account
    # without one in "(none)", and out of every region filter, while the ticket figures counted them.
    site_id = work_order.site_id if work_order else ticket.site_id
    site = session.get(Site, site_id) if site_id else None
    region_id = (
        work_order.region_id
        if work_order
        else (site.region_id if site and site.region_id else (account.region_id if account else None))
    )
    return {
        "ticket_id": ticket.id,
        "work_order_id": work_order.id if work_order else None,
        "engineer_id": work_order.engineer_id if work_order else None,
        "account_id": ticket.account_id,
        "site_id": site_id,
        "region_id": region_id,
        "asset_id": asset_id,
        "product_model_id": asset.product_model_id if asset else None,
        "channel": ticket.channel,
        "contact_id": ticket.contact_id,
    }


def _create(
    session: Session, trigger: Trigger, key: str, ticket: Ticket, wo: WorkOrder | None, at: datetime
) -> Survey | None:
    if session.scalar(select(Survey.id).where(Survey.trigger_key == key)) is not None:
        return None  # the same event seen twice (a retried request): one survey
    ctx, template = choose(session, trigger, ticket, wo)
    if template is None:
        return None
    survey = Survey(trigger_key=key, trigger=trigger, template_id=template.id, triggered_at=at, **ctx)
    survey.next_check_at = at  # the job decides the delay with surveys.next_step
    session.add(survey)
    return survey


def on_visit_ended(session: Session, work_order: WorkOrder) -> Survey | None:
    ticket = session.get(Ticket, work_order.ticket_id)
    if ticket is None:
        return None
    at = work_order.checked_out_at or utcnow()
    return _create(session, "visit_checked_out", f"visit:{work_order.id}", ticket, work_order, at)


def on_ticket_resolved(session: Session, ticket: Ticket) -> Survey | None:
    if ticket.category == RECOVERY:
        return None  # a recovery call is the follow-up of a survey: do not survey it again
    visited = session.scalar(
        select(WorkOrder.id).where(WorkOrder.ticket_id == ticket.id, WorkOrder.status.in_(VISIT_ENDED))
    )
    if visited is not None:
        return None
    at = ticket.resolved_at or utcnow()
    return _create(session, "ticket_resolved", f"ticket:{ticket.id}:{at.isoformat()}", ticket, None, at)


def mark_case(
    session: Session, *, state: str, ticket_id: int | None = None, work_order_id: int | None = None
) -> None:
    """Record that the case was cancelled or reopened; the job then cancels unanswered surveys."""
    where = Survey.ticket_id == ticket_id if ticket_id is not None else Survey.work_order_id == work_order_id
    session.execute(
        update(Survey)
        .where(where, Survey.answered_at.is_(None), Survey.cancelled_at.is_(None))
        .values(case_state=state, next_check_at=utcnow())
        .execution_options(synchronize_session=False)
    )
