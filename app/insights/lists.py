"""The dashboard's two work lists: detractors to follow up, and renewals at risk.

The renewal-risk list scores every account renewing within 120 days with `surveys.health_score`
from the same signals the 360° view uses (app/desk/customers/view360.py and
app/feedback/customer.py), gathered for all those accounts in a few grouped queries instead of
one 360 per account, and lists the lowest scores first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session, aliased

from app.desk.customers.view360 import BREACH_WINDOW, CLOSED_TICKET, RECOVERY_CATEGORY
from app.insights.records import Filters, equals, survey_conditions, where_filters
from app.models import (
    Account,
    Asset,
    KpiRefresh,
    ProductModel,
    Region,
    SlaEvent,
    SurveyAnswer,
    SurveyRecovery,
    Ticket,
    User,
    WorkOrder,
)
from app.platform.config import get_settings
from surveys import HealthSignals, health_score, kpis

RENEWAL_HORIZON = timedelta(days=120)
CHUNK = 5000
LIST_LENGTH = 25


def _filter_accounts(stmt: Select, filters: Filters) -> Select:  # type: ignore[type-arg]
    """Accounts by their region and tier (the other filters do not describe an account)."""
    stmt = stmt.outerjoin(Region, Region.id == Account.region_id)
    return where_filters(
        stmt,
        Filters(region=filters.region, tier=filters.tier),
        {"region": equals(Region.code), "tier": equals(Account.tier)},
    )


def detractor_follow_ups(
    session: Session, *, start: date, end: date, filters: Filters, limit: int = LIST_LENGTH
) -> list[dict[str, Any]]:
    """Recovery tickets opened for detractor answers in the local dates [start, end] (app zone),
    open ones first, then the newest; sliced like the answers they follow up.

    Owner and status are the recovery ticket's own, as they are now (whoever took the ticket
    from the queue, "resolved" as the ticket says it): the recovery row keeps only who was
    meant to call when it opened. `case_*` is the ticket the survey answer was about."""
    zone = ZoneInfo(get_settings().time_zone)
    lo = datetime.combine(start, time(0), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC)
    case = aliased(Ticket)
    stmt: Select = (  # type: ignore[type-arg]
        select(
            SurveyRecovery.id,
            SurveyRecovery.ticket_id,
            SurveyRecovery.queue,
            SurveyRecovery.opened_at,
            SurveyRecovery.closed_at,
            SurveyRecovery.outcome,
            Ticket.number,
            Ticket.status,
            Account.id.label("account_id"),
            Account.name.label("account"),
            User.name.label("owner"),
            # false: the assignee was deactivated after (a ticket left with them; the page says so)
            User.is_active.label("owner_active"),
            SurveyAnswer.csat,
            SurveyAnswer.nps,
            SurveyAnswer.solved,
            SurveyAnswer.comment,
            case.id.label("case_id"),
            case.number.label("case_number"),
        )
        .join(SurveyAnswer, SurveyAnswer.id == SurveyRecovery.answer_id)
        .join(Ticket, Ticket.id == SurveyRecovery.ticket_id)
        .join(Account, Account.id == SurveyRecovery.account_id)
        .outerjoin(User, User.id == Ticket.assignee_id)
        .outerjoin(case, case.id == SurveyAnswer.ticket_id)
        .where(SurveyRecovery.opened_at >= lo, SurveyRecovery.opened_at < hi)
    )
    stmt = stmt.outerjoin(Region, Region.id == SurveyAnswer.region_id).outerjoin(
        ProductModel, ProductModel.id == SurveyAnswer.product_model_id
    )
    stmt = where_filters(stmt, filters, survey_conditions(SurveyAnswer))
    # open ones first by the ticket's status: a recovery reopened after its outcome is open again
    stmt = stmt.order_by(Ticket.status.in_(CLOSED_TICKET), SurveyRecovery.opened_at.desc()).limit(limit)
    return [dict(r._mapping) for r in session.execute(stmt)]


def _visit_facts(w: Any) -> kpis.VisitFacts:
    # Each work order its own job, as the 360 view's health signals read visits
    # (app/feedback/facts.py), so that the list shows the score the 360 view shows.
    return kpis.VisitFacts(
        id=str(w.id),
        work_order_id=str(w.id),
        target=f"asset:{w.asset_id}" if w.asset_id is not None else f"site:{w.site_id}",
        arrived_at=w.checked_in_at,
        finished_at=w.checked_out_at,
        completed=w.status == "done",
    )


def _signals(session: Session, ids: list[int], now: datetime) -> dict[int, HealthSignals]:
    recent = now - BREACH_WINDOW
    acc: dict[int, dict[str, Any]] = defaultdict(dict)
    is_open = Ticket.status.not_in(CLOSED_TICKET)
    for account_id, priority, n_open, n_recent in session.execute(
        select(
            Ticket.account_id,
            Ticket.priority,
            func.count(case((is_open, Ticket.id))),
            func.count(case((Ticket.opened_at >= recent, Ticket.id))),
        )
        .where(Ticket.account_id.in_(ids), Ticket.category != RECOVERY_CATEGORY)
        .group_by(Ticket.account_id, Ticket.priority)
    ):
        a = acc[account_id]
        a["open_p1"] = a.get("open_p1", 0) + (n_open if priority == "P1" else 0)
        a["open_p2"] = a.get("open_p2", 0) + (n_open if priority == "P2" else 0)
        a["tickets_90d"] = a.get("tickets_90d", 0) + n_recent
    for account_id, n in session.execute(
        select(Ticket.account_id, func.count())
        .join(SlaEvent, SlaEvent.ticket_id == Ticket.id)
        .where(Ticket.account_id.in_(ids), SlaEvent.kind == "breach", SlaEvent.at >= recent)
        .group_by(Ticket.account_id)
    ):
        acc[account_id]["sla_breaches_90d"] = n
    for account_id, n in session.execute(
        select(Asset.account_id, func.count()).where(Asset.account_id.in_(ids)).group_by(Asset.account_id)
    ):
        acc[account_id]["assets"] = n
    in_window = SurveyAnswer.answered_at >= recent
    for account_id, mean, n, prev_mean, prev_n, detractors in session.execute(
        select(
            SurveyAnswer.account_id,
            func.avg(case((in_window, SurveyAnswer.csat))),
            func.count(case((in_window, SurveyAnswer.csat))),
            func.avg(case((~in_window, SurveyAnswer.csat))),
            func.count(case((~in_window, SurveyAnswer.csat))),
            func.count(case((in_window & SurveyAnswer.is_detractor, SurveyAnswer.id))),
        )
        .where(SurveyAnswer.account_id.in_(ids), SurveyAnswer.answered_at >= now - 2 * BREACH_WINDOW)
        .group_by(SurveyAnswer.account_id)
    ):
        acc[account_id].update(
            csat_mean_90d=float(mean) if mean is not None else None,
            csat_n_90d=n,
            csat_mean_prev_90d=float(prev_mean) if prev_mean is not None else None,
            csat_n_prev_90d=prev_n,
            detractors_90d=detractors,
        )
    visits: dict[int, list[kpis.VisitFacts]] = defaultdict(list)
    for w in session.execute(
        select(
            WorkOrder.id,
            WorkOrder.account_id,
            WorkOrder.asset_id,
            WorkOrder.site_id,
            WorkOrder.checked_in_at,
            WorkOrder.checked_out_at,
            WorkOrder.status,
        ).where(
            WorkOrder.account_id.in_(ids),
            WorkOrder.checked_in_at >= recent - kpis.RETURN_WINDOW,
        )
    ):
        visits[w.account_id].append(_visit_facts(w))
    for account_id, facts in visits.items():
        repeats = kpis.repeat_visit_ids(facts)
        acc[account_id]["repeat_visits_90d"] = sum(
            1 for v in facts if v.id in repeats and v.arrived_at is not None and v.arrived_at >= recent
        )
    return {i: HealthSignals(**acc.get(i, {})) for i in ids}


def _scored(session: Session, accounts: list[Any], now: datetime) -> list[dict[str, Any]]:
    """Each account with its health score and reasons, lowest first (ties: the earlier renewal)."""
    signals: dict[int, HealthSignals] = {}
    ids = [a.id for a in accounts]
    for i in range(0, len(ids), CHUNK):  # bounded IN lists for the grouped queries
        signals.update(_signals(session, ids[i : i + CHUNK], now))
    out = []
    for a in accounts:
        health = health_score(signals[a.id])
        out.append(
            {
                "account_id": a.id,
                "account": a.name,
                "tier": a.tier,
                "region": a.region,
                "renewal_date": a.renewal_date,
                "arr": a.arr,
                "owner": a.owner,
                "owner_active": a.owner_active,
                "score": health.score,
                "band": health.band,
                "reasons": [r.text for r in health.reasons],
            }
        )
    out.sort(key=lambda r: (r["score"], r["renewal_date"], r["account_id"]))
    return out


def _renewing(session: Session, today: date, filters: Filters, ids: list[int] | None = None) -> list[Any]:
    stmt = (
        select(
            Account.id,
            Account.name,
            Account.tier,
            Account.renewal_date,
            Account.arr,
            Region.code.label("region"),
            User.name.label("owner"),  # who calls the customer before the renewal
            # false: deactivated, the account keeps them until it is given another owner
            User.is_active.label("owner_active"),
        )
        .outerjoin(User, User.id == Account.owner_user_id)
        .where(Account.renewal_date >= today, Account.renewal_date <= today + RENEWAL_HORIZON)
    )
    if ids is not None:
        stmt = stmt.where(Account.id.in_(ids))
    return list(session.execute(_filter_accounts(stmt, filters)))


def renewal_scores(session: Session, *, today: date, now: datetime) -> list[list[Any]]:
    """Every account renewing within 120 days as [id, score, region, tier], lowest score first:
    what the periodic job keeps (KpiRefresh.renewal_scores), so the page scores only a few."""
    return [
        [r["account_id"], r["score"], r["region"], r["tier"]]
        for r in _scored(session, _renewing(session, today, Filters()), now)
    ]


def renewal_risk(
    session: Session, *, today: date, filters: Filters, now: datetime | None = None, limit: int = LIST_LENGTH
) -> list[dict[str, Any]]:
    """Accounts renewing within 120 days, lowest health first (ties: the earlier renewal).

    With today's scores kept by the periodic job, only the first `limit` accounts matching the
    filters are scored again (for their reasons); otherwise every renewing account is scored."""
    now = now or datetime.now(UTC)
    state = session.get(KpiRefresh, 1)
    if state is not None and state.renewal_day == today and state.renewal_scores is not None:
        ids = [
            row[0]
            for row in state.renewal_scores
            if filters.region in (None, row[2]) and filters.tier in (None, row[3])
        ][:limit]
        return _scored(session, _renewing(session, today, filters, ids), now)
    return _scored(session, _renewing(session, today, filters), now)[:limit]
