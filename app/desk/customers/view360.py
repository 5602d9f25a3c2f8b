"""The customer 360° view: one read with everything an agent needs while the customer talks.

A fixed handful of indexed queries by account id (no per-row loads): account, contacts, sites,
contracts with their calendar, assets with their model, ticket counts and lists, visits with
their engineer, SLA breaches. Entitlement and health are computed here from those rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from app.desk.customers.schemas import (
    AccountSummary,
    AssetSummary,
    ContactSummary,
    ContractSummary,
    Customer360,
    Health,
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

CLOSED_TICKET = (TicketStatus.resolved.value, TicketStatus.closed.value)
OPEN_VISIT = (
    WorkOrderStatus.unscheduled.value,
    WorkOrderStatus.scheduled.value,
    WorkOrderStatus.en_route.value,
    WorkOrderStatus.on_site.value,
)
RECENT = 10
LIST_CAP = 200  # contacts / sites / assets / open tickets shown at most
BREACH_WINDOW = timedelta(days=90)
EXPIRY_WARNING = timedelta(days=60)
BREACHES_RED = 3


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


def satisfaction_answers(session: Session, *, account_id: int, limit: int = 5) -> list[dict[str, Any]]:
    """Hook for surveys/: the account's last answers. Surveys do not exist yet, so none."""
    return []


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
    open_counts: Counter[str]  # open tickets by priority
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


def _health(
    account: Account,
    open_by_priority: Counter[str],
    breaches: int,
    contracts: list[ContractSummary],
    today: date,
) -> Health:
    reasons: list[str] = []
    p1, p2 = open_by_priority.get("P1", 0), open_by_priority.get("P2", 0)
    later = [c for c in contracts if c.status == "upcoming"]
    expiring = [
        c.number
        for c in contracts
        if c.status == "active"
        and c.ends_on - today <= EXPIRY_WARNING
        and not any(n.starts_on <= c.ends_on + timedelta(days=1) for n in later)
    ]
    red = p1 > 0 or breaches >= BREACHES_RED
    if p1:
        reasons.append(f"{p1} open P1 ticket{'s' * (p1 > 1)}")
    if p2:
        reasons.append(f"{p2} open P2 ticket{'s' * (p2 > 1)}")
    if breaches:
        reasons.append(f"{breaches} SLA breach{'es' * (breaches > 1)} in the last 90 days")
    for number in expiring:
        reasons.append(f"contract {number} ends within {EXPIRY_WARNING.days} days, no follow-up")
    if account.renewal_date and today <= account.renewal_date <= today + EXPIRY_WARNING:
        reasons.append(f"renewal due on {account.renewal_date.isoformat()}")
    status = "red" if red else ("amber" if reasons else "green")
    return Health(
        status=status,
        open_p1=p1,
        open_p2=p2,
        sla_breaches_90d=breaches,
        expiring_contracts=expiring,
        reasons=reasons,
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
            version=account.version,
        ),
        health=_health(account, tickets.open_counts, tickets.breaches, contracts, today),
        contacts=[
            ContactSummary(
                id=c.id,
                external_id=c.external_id,
                name=c.name,
                email=c.email,
                phone=c.phone,
                mobile=c.mobile,
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
        satisfaction=[
            SatisfactionAnswer.model_validate(a) for a in satisfaction_answers(session, account_id=account_id)
        ],
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
        .where(Contact.account_id == account_id)
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
    open_counts = Counter(
        dict(
            session.execute(
                select(Ticket.priority, func.count())
                .where(Ticket.account_id == account_id, Ticket.status.not_in(CLOSED_TICKET))
                .group_by(Ticket.priority)
            )
            .tuples()
            .all()
        )
    )
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
        open_counts=open_counts, open_tickets=open_tickets, recent_tickets=recent_tickets, breaches=breaches
    )


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
