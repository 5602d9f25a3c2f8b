"""The customer 360° view: one read with everything an agent needs while the customer talks.

A fixed handful of indexed queries by account id (no per-row loads): account, contacts, sites,
contracts with their calendar, assets with their model, ticket counts and lists, visits with
their engineer, SLA breaches. Entitlement and health are computed here from those rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from app.desk.customers.schemas import (
    AccountSummary,
    AssetSummary,
    ContactSummary,
    ContractSummary,
    Customer360,
    Health,
    HealthReason,
    RecoverySummary,
    SatisfactionAnswer,
    SiteSummary,
    TicketSummary,
    VisitSummary,
)
from app.models import (
    Account,
    Asset,
    BusinessCalendar,
    Contact,
    Contract,
    Engineer,
    ProductModel,
    Region,
    Site,
    SlaEvent,
    Ticket,
    TicketStatus,
    WorkOrder,
    WorkOrderStatus,
)
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import NotFound
from surveys import HealthSignals, health_score

CLOSED_TICKET = (TicketStatus.resolved.value, TicketStatus.closed.value)
OPEN_VISIT = (
    WorkOrderStatus.unscheduled.value,
    WorkOrderStatus.scheduled.value,
    WorkOrderStatus.en_route.value,
    WorkOrderStatus.on_site.value,
)
RECENT = 10
RECOVERY_CATEGORY = "recovery"  # tickets app.feedback opens to follow up unhappy survey answers
LIST_CAP = 200  # contacts / sites / assets / open tickets shown at most
BREACH_WINDOW = timedelta(days=90)
EXPIRY_WARNING = timedelta(days=60)


def local_today() -> date:
    return datetime.now(ZoneInfo(get_settings().time_zone)).date()


def contract_status(contract: Contract, today: date) -> str:
    """active / expired / upcoming on `today` (both end dates are covered days)."""
    if today < contract.starts_on:
        return "upcoming"
    return "expired" if today > contract.ends_on else "active"


def asset_entitlement(asset: Asset, contract: Contract | None, today: date) -> str:
    """in_warranty beats under_contract (the manufacturer pays); anything else is billable."""
    if asset.warranty_end is not None and today <= asset.warranty_end:
        return "in_warranty"
    if contract is not None and contract_status(contract, today) == "active":
        return "under_contract"
    return "billable"


@dataclass(frozen=True)
class SurveySignals:
    """What the survey layer (app.feedback) tells the 360 view about an account."""

    answers: list[dict[str, Any]] = field(default_factory=list)  # the last few, newest first
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    detractors_90d: int = 0
    repeat_visits_90d: int = 0
    csat_mean_90d: float | None = None
    csat_n_90d: int = 0
    csat_mean_prev_90d: float | None = None
    csat_n_prev_90d: int = 0


SignalsProvider = Callable[[Session, int, datetime], SurveySignals]
_signals_provider: SignalsProvider | None = None


def set_survey_signals(provider: SignalsProvider | None) -> None:
    """Installed at start-up by app.feedback (a higher layer); without it the view has no answers."""
    global _signals_provider
    _signals_provider = provider


def survey_signals(session: Session, *, account_id: int, now: datetime) -> SurveySignals:
    return _signals_provider(session, account_id, now) if _signals_provider else SurveySignals()


@dataclass(frozen=True)
class AccountRows:
    """The account and what it owns, each list capped at LIST_CAP."""

    account: Account
    region: Region | None
    contacts: Sequence[Contact]
    sites: Sequence[Site]
    contracts: Sequence[Row[Contract, str]]  # with the calendar's name
    assets: Sequence[Row[Asset, str, str]]  # with the product model's code and name


@dataclass(frozen=True)
class TicketRows:
    open_counts: Counter[str]  # open tickets by priority (recovery tickets left out)
    tickets_90d: int  # opened within BREACH_WINDOW (recovery tickets left out)
    open_tickets: Sequence[Ticket]
    recent_tickets: Sequence[Ticket]
    breaches: int  # SLA breaches within BREACH_WINDOW


@dataclass(frozen=True)
class VisitRows:
    upcoming: Sequence[Row[WorkOrder, str | None]]  # with the engineer's name
    past: Sequence[Row[WorkOrder, str | None]]


def _ticket(t: Ticket) -> TicketSummary:
    return TicketSummary(
        id=t.id,
        number=t.number,
        subject=t.subject,
        status=t.status,
        priority=t.priority,
        channel=t.channel,
        opened_at=t.opened_at,
        resolution_due_at=t.resolution_due_at,
        sla_breached=t.sla_breached,
        asset_id=t.asset_id,
        site_id=t.site_id,
    )


def _visit(w: WorkOrder, engineer: str | None) -> VisitSummary:
    return VisitSummary(
        id=w.id,
        number=w.number,
        ticket_id=w.ticket_id,
        status=w.status,
        priority=w.priority,
        engineer_id=w.engineer_id,
        engineer_name=engineer,
        planned_start_at=w.planned_start_at,
        appointment_start_at=w.appointment_start_at,
        checked_out_at=w.checked_out_at,
        site_id=w.site_id,
        asset_id=w.asset_id,
    )


BADGE = {"healthy": "green", "watch": "amber", "at_risk": "red"}


def _health(
    account: Account,
    open_by_priority: Counter[str],
    breaches: int,
    contracts: list[ContractSummary],
    today: date,
    signals: SurveySignals,
    tickets_90d: int,
    assets: int,
) -> Health:
    """The score and its reasons come from `surveys.health_score` (docs/kpis.md); contract
    expiries and a near renewal are listed as notes, they are dates to act on, not service."""
    p1, p2 = open_by_priority.get("P1", 0), open_by_priority.get("P2", 0)
    health = health_score(
        HealthSignals(
            open_p1=p1,
            open_p2=p2,
            sla_breaches_90d=breaches,
            detractors_90d=signals.detractors_90d,
            repeat_visits_90d=signals.repeat_visits_90d,
            tickets_90d=tickets_90d,
            assets=assets,
            csat_mean_90d=signals.csat_mean_90d,
            csat_n_90d=signals.csat_n_90d,
            csat_mean_prev_90d=signals.csat_mean_prev_90d,
            csat_n_prev_90d=signals.csat_n_prev_90d,
        )
    )
    later = [c for c in contracts if c.status == "upcoming"]
    expiring = [
        c.number
        for c in contracts
        if c.status == "active"
        and c.ends_on - today <= EXPIRY_WARNING
        and not any(n.starts_on <= c.ends_on + timedelta(days=1) for n in later)
    ]
    notes = [f"contract {number} ends within {EXPIRY_WARNING.days} days, no follow-up" for number in expiring]
    if account.renewal_date and today <= account.renewal_date <= today + EXPIRY_WARNING:
        notes.append(f"renewal due on {account.renewal_date:%d %b %Y}")  # as the page writes dates
    return Health(
        status=BADGE[health.band],
        score=health.score,
        band=health.band,
        open_p1=p1,
        open_p2=p2,
        sla_breaches_90d=breaches,
        expiring_contracts=expiring,
        reasons=[HealthReason(code=r.code, text=r.text, points=r.points) for r in health.reasons],
        notes=notes,
    )


def customer_360(
    session: Session, *, account_id: int, today: date | None = None, now: datetime | None = None
) -> Customer360:
    """Everything about one account, as the API returns it."""
    today = today or local_today()
    now = now or utcnow()
    rows = _account_rows(session, account_id)
    tickets = _ticket_rows(session, account_id, now)
    visits = _visit_rows(session, account_id)
    contracts = _contracts(rows, today)
    signals = survey_signals(session, account_id=account_id, now=now)
    account, region = rows.account, rows.region
    return Customer360(
        account=AccountSummary(
            id=account.id,
            external_id=account.external_id,
            name=account.name,
            tier=account.tier,
            segment=account.segment,
            region=region.code if region else None,
            region_name=region.name if region else None,
            arr=account.arr,
            renewal_date=account.renewal_date,
            owner_user_id=account.owner_user_id,
            language=account.language,
            version=account.version,
        ),
        health=_health(
            account,
            tickets.open_counts,
            tickets.breaches,
            contracts,
            today,
            signals,
            tickets.tickets_90d,
            _asset_count(session, rows, account_id),
        ),
        contacts=[
            ContactSummary(
                id=c.id,
                external_id=c.external_id,
                name=c.name,
                email=c.email,
                phone=c.phone,
                mobile=c.mobile,
                survey_opt_out=c.survey_opt_out,
            )
            for c in rows.contacts
        ],
        sites=[
            SiteSummary(
                id=s.id,
                external_id=s.external_id,
                name=s.name,
                address=s.address,
                latitude=s.latitude,
                longitude=s.longitude,
                access_notes=s.access_notes,
            )
            for s in rows.sites
        ],
        contracts=contracts,
        assets=_assets(rows, today),
        open_tickets=[_ticket(t) for t in tickets.open_tickets],
        recent_tickets=[_ticket(t) for t in tickets.recent_tickets],
        upcoming_visits=[_visit(w, name) for w, name in visits.upcoming],
        recent_visits=[_visit(w, name) for w, name in visits.past],
        satisfaction=[SatisfactionAnswer.model_validate(a) for a in signals.answers],
        recoveries=[RecoverySummary.model_validate(r) for r in signals.recoveries],
    )


def _account_rows(session: Session, account_id: int) -> AccountRows:
    row = session.execute(
        select(Account, Region)
        .outerjoin(Region, Region.id == Account.region_id)
        .where(Account.id == account_id)
    ).first()
    if row is None:
        raise NotFound(f"There is no customer account {account_id}.")
    account, region = row.tuple()

    contacts = session.scalars(
        select(Contact)
        .where(Contact.account_id == account_id, Contact.active.is_(True))  # not those who left
        .order_by(Contact.name, Contact.id)
        .limit(LIST_CAP)
    ).all()
    sites = session.scalars(
        select(Site).where(Site.account_id == account_id).order_by(Site.name, Site.id).limit(LIST_CAP)
    ).all()
    contract_rows = session.execute(
        select(Contract, BusinessCalendar.name)
        .join(BusinessCalendar, BusinessCalendar.id == Contract.calendar_id)
        .where(Contract.account_id == account_id)
        .order_by(Contract.ends_on.desc())
    ).all()
    asset_rows = session.execute(
        select(Asset, ProductModel.code, ProductModel.name)
        .join(ProductModel, ProductModel.id == Asset.product_model_id)
        .where(Asset.account_id == account_id)
        .order_by(Asset.site_id, Asset.serial)
        .limit(LIST_CAP)
    ).all()
    return AccountRows(
        account=account,
        region=region,
        contacts=contacts,
        sites=sites,
        contracts=contract_rows,
        assets=asset_rows,
    )


def _ticket_rows(session: Session, account_id: int, now: datetime) -> TicketRows:
    # One pass over the account's tickets: open ones per priority, and all opened in 90 days.
    is_open = Ticket.status.not_in(CLOSED_TICKET)
    per_priority = session.execute(
        select(
            Ticket.priority,
            func.count(case((is_open, Ticket.id))),
            func.count(case((Ticket.opened_at >= now - BREACH_WINDOW, Ticket.id))),
        )
        # A recovery call about an unhappy answer is not a service problem of its own: the answer
        # already counts in the score.
        .where(Ticket.account_id == account_id, Ticket.category != RECOVERY_CATEGORY)
        .group_by(Ticket.priority)
    ).all()
    open_counts = Counter({priority: n_open for priority, n_open, _ in per_priority if n_open})
    tickets_90d = sum(n_recent for _, _, n_recent in per_priority)
    open_tickets = session.scalars(
        select(Ticket)
        .where(Ticket.account_id == account_id, Ticket.status.not_in(CLOSED_TICKET))
        .order_by(Ticket.priority, Ticket.opened_at.desc())
        .limit(LIST_CAP)
    ).all()
    recent_tickets = session.scalars(
        select(Ticket)
        .where(Ticket.account_id == account_id)
        .order_by(Ticket.opened_at.desc(), Ticket.id.desc())
        .limit(RECENT)
    ).all()
    breaches = (
        session.scalar(
            select(func.count())
            .select_from(SlaEvent)
            .join(Ticket, Ticket.id == SlaEvent.ticket_id)
            .where(
                Ticket.account_id == account_id, SlaEvent.kind == "breach", SlaEvent.at >= now - BREACH_WINDOW
            )
        )
        or 0
    )
    return TicketRows(
        open_counts=open_counts,
        tickets_90d=tickets_90d,
        open_tickets=open_tickets,
        recent_tickets=recent_tickets,
        breaches=breaches,
    )


def _asset_count(session: Session, rows: AccountRows, account_id: int) -> int:
    """How many assets the account has: the list is capped, the load per asset needs the true number."""
    if len(rows.assets) < LIST_CAP:
        return len(rows.assets)
    return session.scalar(select(func.count()).select_from(Asset).where(Asset.account_id == account_id)) or 0


def _visit_rows(session: Session, account_id: int) -> VisitRows:
    visits = (
        select(WorkOrder, Engineer.name)
        .outerjoin(Engineer, Engineer.id == WorkOrder.engineer_id)
        .where(WorkOrder.account_id == account_id)
    )
    upcoming = session.execute(
        visits.where(WorkOrder.status.in_(OPEN_VISIT))
        .order_by(WorkOrder.planned_start_at.is_(None), WorkOrder.planned_start_at, WorkOrder.id)
        .limit(LIST_CAP)
    ).all()
    last_done = func.coalesce(WorkOrder.checked_out_at, WorkOrder.planned_start_at, WorkOrder.created_at)
    past = session.execute(
        visits.where(WorkOrder.status.not_in(OPEN_VISIT))
        .order_by(last_done.desc(), WorkOrder.id.desc())
        .limit(RECENT)
    ).all()
    return VisitRows(upcoming=upcoming, past=past)


def _contracts(rows: AccountRows, today: date) -> list[ContractSummary]:
    return [
        ContractSummary(
            id=c.id,
            number=c.number,
            external_id=c.external_id,
            tier=c.tier,
            starts_on=c.starts_on,
            ends_on=c.ends_on,
            status=contract_status(c, today),
            calendar_id=c.calendar_id,
            calendar_name=cal_name,
        )
        for c, cal_name in rows.contracts
    ]


def _assets(rows: AccountRows, today: date) -> list[AssetSummary]:
    """Each asset with its model, site and contract, and what a repair would cost the customer."""
    by_contract = {c.id: c for c, _ in rows.contracts}
    site_names = {s.id: s.name for s in rows.sites}
    assets = []
    for a, model_code, model_name in rows.assets:
        contract = by_contract.get(a.contract_id) if a.contract_id else None
        assets.append(
            AssetSummary(
                id=a.id,
                external_id=a.external_id,
                serial=a.serial,
                model_code=model_code,
                model_name=model_name,
                site_id=a.site_id,
                site_name=site_names.get(a.site_id),
                install_date=a.install_date,
                warranty_end=a.warranty_end,
                contract_id=a.contract_id,
                contract_number=contract.number if contract else None,
                entitlement=asset_entitlement(a, contract, today),
            )
        )
    return assets
