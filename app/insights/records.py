"""Desk and field rows → the `surveys` library's plain records, each with the keys a KPI is sliced by.

How the app's rows map onto the definitions of docs/kpis.md:
- a *visit* is a work order (one trip); the *job* whose first visit counts for first-time fix is
  the ticket (a follow-up trip is a new work order on the same ticket, as `visits._first_visit`
  already reads it); the *target* a return visit returns to is the asset, else the site;
- a ticket's region is its site's region, else its account's; its engineer is the engineer of
  its first visit; its product model is its asset's; its tier is the account's tier;
- local days are the region's time zone (the app's default zone when a row has no region).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select, true, tuple_
from sqlalchemy.orm import Session, aliased

from app.desk.customers.view360 import RECOVERY_CATEGORY
from app.models import (
    Absence,
    Account,
    Asset,
    Channel,
    Engineer,
    PlanDay,
    PlanRoute,
    ProductModel,
    Region,
    Shift,
    Site,
    SlaEvent,
    SlaTarget,
    Survey,
    SurveyAnswer,
    Ticket,
    TicketEvent,
    WorkOrder,
)
from app.platform.config import get_settings
from app.platform.inputs import INT_MAX
from surveys import VISIT_FACTS, Answer, kpis

KEYS = ("region", "engineer", "product_model", "tier", "channel")
DONE_TICKET = ("resolved", "closed")
ID_LIST_MAX = 10_000  # bound parameters stay far under every driver's limit
CONTACT_EVENTS = ("reply", "call")  # the logged human contacts (docs/kpis.md, First response)


@dataclass(frozen=True, slots=True)
class Filters:
    """One value per slicing key; None = no filter. Engineer is an engineer id as text."""

    region: str | None = None  # region code
    engineer: str | None = None
    product_model: str | None = None  # product model code
    tier: str | None = None
    channel: str | None = None

    def active(self) -> dict[str, str]:
        return {k: v for k in KEYS if (v := getattr(self, k)) is not None}

    def admits(self, keys: Mapping[str, str]) -> bool:
        return all(keys.get(k) == v for k, v in self.active().items())


def unknown_values(session: Session, filters: Filters) -> list[dict[str, str]]:
    """The filters whose value names nothing (problem+json errors): "region=XX" answered every card
    with n = 0 as if XX were a quiet region."""
    errors: list[dict[str, str]] = []
    # "" is the "(none)" group (records without a region, say): a value, not a typo
    f = Filters(**{k: v for k, v in filters.active().items() if v != ""})
    if f.region is not None and session.scalar(select(Region.id).where(Region.code == f.region)) is None:
        errors.append({"field": "region", "message": f"there is no region {f.region!r}"})
    # "x", "05" (keys are str(id): it would match nobody) and ids past int4 are -1, no engineer
    if f.engineer is not None and (
        engineer_id(f.engineer) < 0
        or session.scalar(select(Engineer.id).where(Engineer.id == engineer_id(f.engineer))) is None
    ):
        errors.append({"field": "engineer", "message": f"there is no engineer {f.engineer!r}"})
    if f.product_model is not None and (
        session.scalar(select(ProductModel.id).where(ProductModel.code == f.product_model)) is None
    ):
        errors.append({"field": "product_model", "message": f"there is no product model {f.product_model!r}"})
    if f.tier is not None and f.tier != "standard":
        known = session.scalar(
            select(SlaTarget.id).where(SlaTarget.tier == f.tier).limit(1)
        ) or session.scalar(select(Account.id).where(Account.tier == f.tier).limit(1))
        if known is None:  # the tiers are data: the SLA targets' and those accounts have
            tiers = {"standard", *session.scalars(select(SlaTarget.tier).distinct())}
            tiers |= set(session.scalars(select(Account.tier).distinct()))
            errors.append({"field": "tier", "message": f"one of {', '.join(sorted(tiers))}"})
    if f.channel is not None and f.channel not in {c.value for c in Channel}:
        errors.append({"field": "channel", "message": f"one of {', '.join(c.value for c in Channel)}"})
    return errors


@dataclass(frozen=True, slots=True)
class Keyset:
    """One batch of rows in (time, id) order after a cursor, for the drill-down lists: the rows
    whose `column` is in [lo_at, hi_at), read through an index on (column, id). Without a
    `column` (a snapshot list, whose time is the reporting moment): id order after the cursor's id."""

    column: Any
    id_column: Any
    lo_at: datetime
    hi_at: datetime
    after: tuple[datetime, int] | None
    limit: int

    def apply(self, stmt: Select) -> Select:  # type: ignore[type-arg]
        if self.column is None:
            if self.after is not None:
                stmt = stmt.where(self.id_column > self.after[1])
            return stmt.order_by(self.id_column).limit(self.limit)
        stmt = stmt.where(self.column >= self.lo_at, self.column < self.hi_at)
        if self.after is not None:
            at, row_id = self.after
            stmt = stmt.where(
                tuple_(self.column, self.id_column)
                > tuple_(literal(at, self.column.type), literal(row_id, self.id_column.type))
            )
        return stmt.order_by(self.column, self.id_column).limit(self.limit)


@dataclass(frozen=True, slots=True)
class TicketRow:
    facts: kpis.TicketFacts
    number: str
    tz: str
    calendar_id: int | None
    keys: Mapping[str, str]
    status: str
    done_at: datetime | None  # resolved, else closed (for the backlog as of a past moment)
    reopened_at: datetime | None
    at_risk: bool
    clocks: tuple[kpis.SlaClock, ...] = ()


@dataclass(frozen=True, slots=True)
class VisitRow:
    facts: kpis.VisitFacts
    number: str
    ticket_number: str
    tz: str
    keys: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class ShiftRow:
    day: kpis.ShiftDay
    tz: str
    keys: Mapping[str, str]
    at: datetime = field(compare=False)  # local midnight of the day, as the period key


def _tz(value: str | None) -> str:
    return value or get_settings().time_zone


def _window_utc(lo: date, hi: date) -> tuple[datetime, datetime]:
    """[lo, hi) local dates as UTC instants wide enough for every zone (±14 h)."""
    return (
        datetime.combine(lo, time(0), UTC) - timedelta(hours=14),
        datetime.combine(hi, time(0), UTC) + timedelta(hours=14),
    )


# ------------------------------------------------------------------------------------------ tickets
# Plain columns, not ORM entities: a 90-day window is many rows, and entities cost 10× to build.
# Every time a ticket metric can be dated by (aggregates.py rebuilds the days of all of them).
TICKET_TIMES = (
    Ticket.opened_at,
    Ticket.first_response_at,
    Ticket.arrived_at,
    Ticket.resolved_at,
    Ticket.closed_at,
    Ticket.first_response_due_at,
    Ticket.arrival_due_at,
    Ticket.resolution_due_at,
)
TICKET_COLUMNS = (
    Ticket.id,
    Ticket.number,
    Ticket.channel,
    Ticket.status,
    Ticket.sla_calendar_id,
    *TICKET_TIMES,
    Ticket.at_risk_since,
)


@dataclass(frozen=True, slots=True)
class TicketJoins:
    """The two regions a ticket's slice reads (its site's, else its account's), aliased once so
    that the row loader and the SQL counts (`count_at_risk`) derive every key the same way."""

    site_region: Any
    acct_region: Any

    def apply(self, stmt: Select, keys: Collection[str] = KEYS) -> Select:  # type: ignore[type-arg]
        """The joins the slicing `keys` read. Each is many-to-one (one account per ticket, its
        account_id NOT NULL; at most one site, region, asset, model), so leaving out those no key
        reads changes neither which tickets nor how many rows."""
        if {"tier", "region"} & set(keys):
            stmt = stmt.join(Account, Account.id == Ticket.account_id)
        if "region" in keys:
            stmt = (
                stmt.outerjoin(Site, Site.id == Ticket.site_id)
                .outerjoin(self.site_region, self.site_region.id == Site.region_id)
                .outerjoin(self.acct_region, self.acct_region.id == Account.region_id)
            )
        if "product_model" in keys:
            stmt = stmt.outerjoin(Asset, Asset.id == Ticket.asset_id).outerjoin(
                ProductModel, ProductModel.id == Asset.product_model_id
            )
        return stmt

    def conditions(self) -> dict[str, Callable[[str], Any]]:
        """Each filter on a ticket, exactly as `Filters.admits` reads the ticket's keys."""
        return {
            "tier": equals(Account.tier),
            "channel": equals(Ticket.channel),
            "product_model": equals(ProductModel.code),
            "region": lambda v: or_(
                self.site_region.code == v, and_(Site.region_id.is_(None), self.acct_region.code == v)
            ),
            # A ticket's engineer is the engineer of its first visit. The EXISTS over any of the
            # engineer's visits is implied by it but lets the database start from their work orders
            # (ix on engineer_id) instead of ranking every ticket's visits in the window.
            "engineer": lambda v: and_(
                exists().where(WorkOrder.ticket_id == Ticket.id, WorkOrder.engineer_id == engineer_id(v)),
                first_engineer() == engineer_id(v),
            ),
        }


def ticket_joins() -> TicketJoins:
    return TicketJoins(aliased(Region), aliased(Region))


def open_ticket() -> Any:
    """Open now (what the current backlog and SLA at risk read; index ix_ticket_open_opened)."""
    return and_(Ticket.resolved_at.is_(None), Ticket.closed_at.is_(None), Ticket.status.not_in(DONE_TICKET))


def _ticket_stmt(lo_at: datetime, hi_at: datetime, filters: Filters, open_only: bool = False) -> Select:  # type: ignore[type-arg]
    j = ticket_joins()
    stmt = j.apply(
        select(
            *TICKET_COLUMNS,
            Account.tier,
            j.site_region.code.label("site_region"),
            j.site_region.timezone.label("site_tz"),
            j.acct_region.code.label("account_region"),
            j.acct_region.timezone.label("account_tz"),
            ProductModel.code.label("model"),
        )
    ).where(
        # A recovery call about an unhappy answer is follow-up, not service: the answer counts.
        Ticket.category != RECOVERY_CATEGORY,
        Ticket.opened_at < hi_at,
        or_(
            Ticket.opened_at >= lo_at,
            and_(Ticket.resolved_at.is_(None), Ticket.closed_at.is_(None)),
            Ticket.resolved_at >= lo_at,
            Ticket.closed_at >= lo_at,
            Ticket.first_response_at >= lo_at,
            Ticket.arrived_at >= lo_at,
        ),
    )
    if open_only:  # only what is open now: the current backlog and what is at risk
        stmt = stmt.where(open_ticket())
    return where_filters(stmt, filters, j.conditions())


def engineer_id(text: str) -> int:
    """An engineer filter's id. Keys are ``str(id)``, so text that is not one ("x", "05", "²")
    matches nobody, as `Filters.admits` would find; nor does an id past int4 ("9223372036854775808")."""
    ok = text.isascii() and text.isdecimal() and len(text) <= 10 and str(int(text)) == text
    # beyond int4 no engineer has it, and the driver overflowed (SQLite past 2^63: a 500)
    return int(text) if ok and int(text) <= INT_MAX else -1


def equals(column: Any) -> Callable[[str], Any]:
    return lambda value: column == value


def where_filters(
    stmt: Select,  # type: ignore[type-arg]
    filters: Filters,
    conditions: Mapping[str, Callable[[str], Any]],
) -> Select:  # type: ignore[type-arg]
    """Each active filter as the condition its key maps to (service.check refuses keys a metric
    cannot be sliced by, so every active key has one)."""
    for key, value in filters.active().items():
        stmt = stmt.where(conditions[key](value))
    return stmt


def load_tickets(
    session: Session,
    lo: date,
    hi: date,
    filters: Filters,
    *,
    open_only: bool = False,
    at_risk_only: bool = False,
    keyset: Keyset | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[TicketRow]:
    """Tickets that have anything to report in the local dates [lo, hi), or are still open
    (`open_only`: only those open now; `at_risk_only`: of those, the ones marked at risk); with
    `keyset`, one batch of them in its order; `where`: only those matching it too."""
    lo_at, hi_at = _window_utc(lo, hi)
    stmt = _ticket_stmt(lo_at, hi_at, filters, open_only)
    if open_only and at_risk_only:
        stmt = stmt.where(Ticket.at_risk_since.is_not(None))
    if where is not None:
        stmt = stmt.where(where)
    if keyset is not None:
        stmt = keyset.apply(stmt)
    rows = session.execute(stmt).all()
    # The ids the follow-up queries read: a list when it is short (a page, today's open tickets),
    # so the ticket query is not run again inside each; else the query itself.
    ids: Any = [t.id for t in rows] if len(rows) <= ID_LIST_MAX else select(stmt.subquery().c.id)
    first_engineer: dict[int, str] = {}
    visits: dict[int, int] = defaultdict(int)
    wo_rows = session.execute(
        select(WorkOrder.ticket_id, WorkOrder.engineer_id, WorkOrder.checked_in_at)
        .where(WorkOrder.ticket_id.in_(ids))
        .order_by(
            WorkOrder.ticket_id, WorkOrder.checked_in_at.is_(None), WorkOrder.checked_in_at, WorkOrder.id
        )
    ).all()
    for ticket_id, engineer_id, checked_in_at in wo_rows:
        if ticket_id not in first_engineer and engineer_id is not None:
            first_engineer[ticket_id] = str(engineer_id)
        if checked_in_at is not None:
            visits[ticket_id] += 1
    contacts: defaultdict[int, list[datetime]] = defaultdict(list)
    # Contacts count only up to a resolution: open tickets have none to count.
    for ticket_id, at in (
        session.execute(
            select(TicketEvent.ticket_id, TicketEvent.at).where(
                TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(CONTACT_EVENTS)
            )
        )
        if not open_only
        else ()
    ):
        contacts[ticket_id].append(at)
    reopened: dict[int, datetime] = {}
    for ticket_id, at, data in session.execute(
        select(SlaEvent.ticket_id, SlaEvent.at, SlaEvent.data).where(
            SlaEvent.ticket_id.in_(ids), SlaEvent.kind == "resume"
        )
    ):
        if (data or {}).get("reopened"):
            reopened[ticket_id] = max(at, reopened.get(ticket_id, at))
    out: list[TicketRow] = []
    for t in rows:
        region, tz = (
            (t.site_region, t.site_tz) if t.site_region is not None else (t.account_region, t.account_tz)
        )
        resolved_at = t.resolved_at
        resolved_by_person = resolved_at is not None and t.first_response_at is not None
        n_contacts = sum(1 for at in contacts.get(t.id, ()) if resolved_at is not None and at <= resolved_at)
        facts = kpis.TicketFacts(
            id=str(t.id),
            opened_at=t.opened_at,
            first_response_at=t.first_response_at,
            arrived_at=t.arrived_at,
            resolved_at=t.resolved_at,
            visits=visits[t.id],
            # A person's resolution is itself a contact (docs/kpis.md, First response, rule 4);
            # a call logged just before resolving is the same contact, not a second one.
            contacts_to_resolve=max(1, n_contacts) if resolved_by_person else None,
            reopened=t.id in reopened,
        )
        clocks = tuple(
            kpis.SlaClock(str(t.id), metric, due, done)
            for metric, due, done in (
                ("first_response", t.first_response_due_at, t.first_response_at),
                ("arrival", t.arrival_due_at, t.arrived_at),
                ("resolution", t.resolution_due_at, t.resolved_at),
            )
            if due is not None
        )
        keys = {
            "region": region or "",
            "engineer": first_engineer.get(t.id, ""),
            "product_model": t.model or "",
            "tier": t.tier,
            "channel": t.channel,
        }
        out.append(
            TicketRow(
                facts=facts,
                number=t.number or str(t.id),
                tz=_tz(tz),
                calendar_id=t.sla_calendar_id,
                keys=keys,
                status=t.status,
                done_at=t.resolved_at or t.closed_at,
                reopened_at=reopened.get(t.id),
                at_risk=t.at_risk_since is not None and t.status not in DONE_TICKET,
                clocks=clocks,
            )
        )
    return out


def first_engineer() -> Any:
    """A ticket's engineer key as SQL: the engineer of its first visit, exactly as `load_tickets`
    picks it (the first work order with an engineer in (checked in?, check-in, id) order)."""
    return (
        select(WorkOrder.engineer_id)
        .where(WorkOrder.ticket_id == Ticket.id, WorkOrder.engineer_id.is_not(None))
        .order_by(WorkOrder.checked_in_at.is_(None), WorkOrder.checked_in_at, WorkOrder.id)
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )


def _ticket_key(j: TicketJoins, key: str) -> Any:
    """A ticket's slice key as SQL, as `load_tickets` derives it (None reads as "")."""
    if key == "region":
        return func.coalesce(j.site_region.code, j.acct_region.code)
    if key == "engineer":
        return first_engineer()
    if key == "product_model":
        return ProductModel.code
    if key == "tier":
        return Account.tier
    if key == "channel":
        return Ticket.channel
    raise ValueError(f"no slicing key {key!r}")


def _marked(hi: date, filters: Filters, column: Any, keys: Collection[str]) -> tuple[Select, TicketJoins]:  # type: ignore[type-arg]
    """`column` of the open tickets marked at risk that `load_tickets(session, lo, hi, filters,
    open_only=True, at_risk_only=True)` would load, with the joins `keys` read."""
    _, hi_at = _window_utc(hi, hi)
    j = ticket_joins()
    stmt = j.apply(select(column(j)).select_from(Ticket), {*filters.active(), *keys}).where(
        # the loader's conditions for an open ticket (its OR over the window's times holds for
        # every open one), then the mark
        Ticket.category != RECOVERY_CATEGORY,
        Ticket.opened_at < hi_at,
        open_ticket(),
        Ticket.at_risk_since.is_not(None),
    )
    return where_filters(stmt, filters, j.conditions()), j


def count_at_risk(session: Session, hi: date, filters: Filters, key: str | None = None) -> dict[str, int]:
    """The open tickets marked at risk (`TicketRow.at_risk`) that `load_tickets` would load (see
    `_marked`), counted in SQL per value of `key` (no key: {"": all}) instead of built as rows:
    ~17 000 of them at 100 000 customers cost ~0.5 s as Python objects. Read through the partial
    index on them (ix_ticket_at_risk_open)."""
    if key is None:
        marked, _ = _marked(hi, filters, lambda j: Ticket.id, ())
        n = session.scalar(select(func.count()).select_from(marked.subquery())) or 0
        return {"": n} if n else {}
    marked, _ = _marked(hi, filters, lambda j: _ticket_key(j, key).label("value"), (key,))
    # Grouped outside: the engineer key is a correlated subquery, which GROUP BY cannot name.
    sub = marked.subquery()
    counts: dict[str, int] = defaultdict(int)
    for v, n in session.execute(select(sub.c.value, func.count()).group_by(sub.c.value)).tuples():
        counts["" if v is None else str(v)] += n
    return dict(counts)


def at_risk_ids(
    session: Session, hi: date, filters: Filters, group: tuple[str, str] | None, offset: int, limit: int
) -> list[int]:
    """One page, in id order, of the tickets `count_at_risk` counts (of one group: the key's
    value as text, "" for none, as `load_tickets` keys them)."""
    marked, j = _marked(hi, filters, lambda j: Ticket.id, (group[0],) if group else ())
    if group is not None:
        key, value = group
        column = _ticket_key(j, key)
        if not value:  # an engineer id is never "" (and PostgreSQL will not compare one with it)
            marked = marked.where(
                column.is_(None) if key == "engineer" else or_(column.is_(None), column == "")
            )
        elif key == "engineer":  # an id; its key is str(id), so "05" names nobody
            marked = marked.where(column == engineer_id(value))
        else:
            marked = marked.where(column == value)
    return list(session.scalars(marked.order_by(Ticket.id).offset(offset).limit(limit)))


# ------------------------------------------------------------------------------------------- visits
def load_visits(
    session: Session,
    lo: date,
    hi: date,
    filters: Filters,
    *,
    keyset: Keyset | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[VisitRow]:
    """Visits around [lo, hi): from 30 days before (earlier fixes make repeats) to 30 days after
    (later returns decide first-time fix). Work orders never started are not visits. `keyset`:
    one batch of them in its order; `where`: only those matching it too."""
    lo_at, hi_at = _window_utc(lo, hi)
    lo_at -= kpis.RETURN_WINDOW
    hi_at += kpis.RETURN_WINDOW
    ticket_asset = aliased(Asset)
    model_of = aliased(ProductModel)
    stmt: Select = (  # type: ignore[type-arg]
        select(
            WorkOrder.id,
            WorkOrder.number,
            WorkOrder.ticket_id,
            WorkOrder.asset_id,
            WorkOrder.site_id,
            WorkOrder.checked_in_at,
            WorkOrder.checked_out_at,
            WorkOrder.status,
            WorkOrder.appointment_start_at,
            WorkOrder.appointment_end_at,
            WorkOrder.duration_min,
            WorkOrder.engineer_id,
            Ticket.number.label("ticket_number"),
            Ticket.channel,
            Account.tier,
            Region.code.label("region"),
            Region.timezone.label("tz"),
            model_of.code.label("model"),
        )
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .join(Account, Account.id == WorkOrder.account_id)
        .join(Region, Region.id == WorkOrder.region_id)
        .outerjoin(Asset, Asset.id == WorkOrder.asset_id)
        .outerjoin(ticket_asset, ticket_asset.id == Ticket.asset_id)
        .outerjoin(
            model_of, model_of.id == func.coalesce(Asset.product_model_id, ticket_asset.product_model_id)
        )
        .where(WorkOrder.checked_in_at >= lo_at, WorkOrder.checked_in_at < hi_at)
    )
    stmt = where_filters(
        stmt,
        filters,
        {
            "region": equals(Region.code),
            "engineer": lambda v: WorkOrder.engineer_id == engineer_id(v),
            "tier": equals(Account.tier),
            "channel": equals(Ticket.channel),
            "product_model": equals(model_of.code),
        },
    )
    if where is not None:
        stmt = stmt.where(where)
    if keyset is not None:
        stmt = keyset.apply(stmt)
    out: list[VisitRow] = []
    for wo in session.execute(stmt):
        asset = wo.asset_id
        facts = kpis.VisitFacts(
            id=str(wo.id),
            work_order_id=str(wo.ticket_id),  # the job: see the module docstring
            target=f"asset:{asset}" if asset is not None else f"site:{wo.site_id}",
            arrived_at=wo.checked_in_at,
            finished_at=wo.checked_out_at,
            completed=wo.status == "done",
            promised_from=wo.appointment_start_at,
            promised_to=wo.appointment_end_at,
            planned_duration_min=float(wo.duration_min) if wo.duration_min else None,
            engineer=str(wo.engineer_id or ""),
        )
        keys = {
            "region": wo.region,
            "engineer": str(wo.engineer_id or ""),
            "product_model": wo.model or "",
            "tier": wo.tier,
            "channel": wo.channel,
        }
        out.append(VisitRow(facts, wo.number or str(wo.id), wo.ticket_number or "", _tz(wo.tz), keys))
    return out


# ------------------------------------------------------------------------------------ engineer days
def _shift_minutes(shift: Any) -> float:  # a Shift, or a row of its columns
    def minutes(t: time) -> int:
        return t.hour * 60 + t.minute

    length = minutes(shift.ends) - minutes(shift.starts)
    if shift.break_starts is not None and shift.break_ends is not None:
        length -= minutes(shift.break_ends) - minutes(shift.break_starts)
    return float(max(0, length))


def _absent_minutes(shift: Any, absent_from: time | None, absent_until: time | None) -> float:
    """The shift minutes a partial-day absence takes off (app/field/engineers/service.day_shift):
    the part of the shift between `absent_from` (None: the day's start; sent home at 13:00) and
    `absent_until` (None: the day's end; at the dentist until 10:30), less the break time in it
    (the break falls away with the time it lies in). Wall-clock minutes of the region's clock,
    like the shift and the absence themselves; covering the whole shift, all of it."""

    def minutes(t: time | None, default: int) -> int:
        return default if t is None else t.hour * 60 + t.minute

    starts, ends = minutes(shift.starts, 0), minutes(shift.ends, 0)
    cut0, cut1 = max(starts, minutes(absent_from, 0)), min(ends, minutes(absent_until, 24 * 60))
    absent = max(0, cut1 - cut0)
    if shift.break_starts is not None and shift.break_ends is not None:
        absent -= max(0, min(cut1, minutes(shift.break_ends, 0)) - max(cut0, minutes(shift.break_starts, 0)))
    return float(absent)


def load_shift_days(session: Session, lo: date, hi: date, filters: Filters, today: date) -> list[ShiftRow]:
    """Engineer-days with a shift in [lo, min(hi, today]) that were not whole-day absences (a
    partial-day absence shortens the shift): Σ on-site minutes (check-in to check-out that local
    day) and the published plan's travel for the engineer (None on a day no plan covered)."""
    hi = min(hi, today + timedelta(days=1))
    if hi <= lo:
        return []
    stmt = select(Engineer.id, Engineer.region_id, Region.code, Region.timezone).join(
        Region, Region.id == Engineer.region_id
    )
    stmt = where_filters(
        stmt, filters, {"region": equals(Region.code), "engineer": lambda v: Engineer.id == engineer_id(v)}
    )
    engineers = {eid: (rid, code, _tz(tz)) for eid, rid, code, tz in session.execute(stmt)}
    if not engineers:
        return []
    # The engineers as a list when few (a filter), else their query: thousands of bound ids cost
    # more to send than the rows they select.
    ids: Any = list(engineers) if len(engineers) <= 500 else select(stmt.subquery().c.id)
    shifts: dict[int, dict[int, float]] = defaultdict(dict)
    patterns: dict[tuple[int, int], Any] = {}  # the shift of each weekday (partial-day absences)
    # Columns, not entities: thousands of engineers' week patterns (a drill-down page reads a day).
    shift_columns = (
        Shift.engineer_id,
        Shift.weekday,
        Shift.starts,
        Shift.ends,
        Shift.break_starts,
        Shift.break_ends,
    )
    weekdays = {(lo + timedelta(days=i)).weekday() for i in range(min(7, (hi - lo).days))}
    for s in session.execute(
        select(*shift_columns).where(Shift.engineer_id.in_(ids), Shift.weekday.in_(weekdays))
    ):
        shifts[s.engineer_id][s.weekday] = _shift_minutes(s)
        patterns[(s.engineer_id, s.weekday)] = s
    # Whole-day absences leave the day out; one for part of the day keeps the worked part.
    absences = session.execute(
        select(Absence.engineer_id, Absence.day, Absence.from_time, Absence.until_time).where(
            Absence.engineer_id.in_(ids), Absence.day >= lo, Absence.day < hi
        )
    ).tuples()
    absent: set[tuple[int, date]] = set()
    stops: dict[tuple[int, date], tuple[time | None, time | None]] = {}
    for who, on, from_time, until_time in absences:
        if from_time is None and until_time is None:
            absent.add((who, on))
        else:
            stops[(who, on)] = (from_time, until_time)
    lo_at, hi_at = _window_utc(lo, hi)
    on_site: dict[tuple[int, date], float] = defaultdict(float)
    for eid, inn, out in session.execute(
        select(WorkOrder.engineer_id, WorkOrder.checked_in_at, WorkOrder.checked_out_at).where(
            WorkOrder.engineer_id.in_(ids),
            WorkOrder.checked_in_at >= lo_at,
            WorkOrder.checked_in_at < hi_at,
            WorkOrder.checked_out_at.is_not(None),
        )
    ).tuples():
        if eid is None or inn is None or out is None:  # excluded by the query; for the type checker
            continue
        day = inn.astimezone(ZoneInfo(engineers[eid][2])).date()
        on_site[(eid, day)] += (out - inn).total_seconds() / 60.0
    # Travel is known on the days a published plan covered: the engineer's route there, or none
    # (0 minutes) when the plan of the engineer's region gave them nothing to do.
    planned = set(
        session.execute(
            select(PlanDay.region_id, PlanDay.day).where(
                PlanDay.current_run_id.is_not(None), PlanDay.day >= lo, PlanDay.day < hi
            )
        ).tuples()
    )
    travel: dict[tuple[int, date], float] = {}
    for eid, day, travel_s in session.execute(
        select(PlanRoute.engineer_id, PlanDay.day, PlanRoute.travel_s)
        .join(PlanDay, and_(PlanDay.current_run_id == PlanRoute.plan_run_id, true()))
        .where(PlanRoute.engineer_id.in_(ids), PlanDay.day >= lo, PlanDay.day < hi)
    ):
        travel[(eid, day)] = travel_s / 60.0
    out_rows: list[ShiftRow] = []
    day = lo
    while day < hi:
        for eid, (rid, code, tz) in engineers.items():
            shift_min = shifts[eid].get(day.weekday())
            if shift_min and (eid, day) in stops:
                shift_min = max(
                    0.0, shift_min - _absent_minutes(patterns[(eid, day.weekday())], *stops[(eid, day)])
                )
            if not shift_min or (eid, day) in absent:
                continue
            known = (eid, day) in travel or (rid, day) in planned
            record = kpis.ShiftDay(
                str(eid),
                day,
                shift_min,
                on_site.get((eid, day), 0.0),
                travel.get((eid, day), 0.0) if known else None,
            )
            keys = {"region": code, "engineer": str(eid)}
            out_rows.append(ShiftRow(record, tz, keys, datetime.combine(day, time(12), ZoneInfo(tz))))
        day += timedelta(days=1)
    return out_rows


# ------------------------------------------------------------------------------------------- labels
def labels(session: Session, key: str, values: set[str]) -> dict[str, str]:
    """Readable names for group keys (engineer ids → names, region codes → names)."""
    if key == "engineer":
        ids = [int(v) for v in values if v.isdecimal()]
        return {
            str(i): name
            for i, name in session.execute(select(Engineer.id, Engineer.name).where(Engineer.id.in_(ids)))
        }
    if key == "region":
        return dict(
            session.execute(select(Region.code, Region.name).where(Region.code.in_(values))).tuples().all()
        )
    if key == "product_model":
        return dict(
            session.execute(select(ProductModel.code, ProductModel.name).where(ProductModel.code.in_(values)))
            .tuples()
            .all()
        )
    return {v: v for v in values}


# ------------------------------------------------------------------------------------ survey answers
@dataclass(frozen=True, slots=True)
class AnswerRow:
    id: int
    answer: Answer
    answered_at: datetime
    ticket_id: int
    ticket_number: str
    tz: str
    keys: Mapping[str, str]
    # The visit facts joined at answer time that are known (the drivers view compares them).
    facts: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SurveyRow:
    id: int
    sent_at: datetime
    answered: bool
    ticket_id: int
    ticket_number: str
    tz: str
    keys: Mapping[str, str]


def _survey_keys(row: Any) -> dict[str, str]:
    """An answer's slice: the case context the survey copied (tier: the account's, like tickets)."""
    return {
        "region": row.region or "",
        "engineer": str(row.engineer_id or ""),
        "product_model": row.model or "",
        "tier": row.account_tier,
        "channel": row.channel or "",
    }


def survey_conditions(table: Any) -> dict[str, Callable[[str], Any]]:
    """Filters on a survey or answer (joined with its account, region and product model)."""
    return {
        "region": equals(Region.code),
        "engineer": lambda v: table.engineer_id == engineer_id(v),
        "product_model": equals(ProductModel.code),
        "tier": equals(Account.tier),
        "channel": equals(table.channel),
    }


def _survey_context(table: Any) -> tuple[Any, ...]:
    return (
        table.engineer_id,
        table.channel,
        table.ticket_id,
        Ticket.number.label("ticket_number"),
        Account.tier.label("account_tier"),
        Region.code.label("region"),
        Region.timezone.label("tz"),
        ProductModel.code.label("model"),
    )


def _survey_joins(stmt: Select, table: Any) -> Select:  # type: ignore[type-arg]
    return (
        stmt.join(Account, Account.id == table.account_id)
        .join(Ticket, Ticket.id == table.ticket_id)
        .outerjoin(Region, Region.id == table.region_id)
        .outerjoin(ProductModel, ProductModel.id == table.product_model_id)
    )


def load_answers(
    session: Session, lo: date, hi: date, filters: Filters, *, keyset: Keyset | None = None
) -> list[AnswerRow]:
    """Answers given in the local dates [lo, hi), as the library's `Answer`s (`keyset`: a batch)."""
    lo_at, hi_at = _window_utc(lo, hi)
    a = SurveyAnswer
    fact_columns = [getattr(a, name) for name in VISIT_FACTS]
    stmt = select(a.id, a.answered_at, a.csat, a.nps, a.ces, a.solved, *fact_columns, *_survey_context(a))
    stmt = _survey_joins(stmt, a).where(a.answered_at >= lo_at, a.answered_at < hi_at)
    if keyset is not None:
        stmt = keyset.apply(stmt)
    out: list[AnswerRow] = []
    for r in session.execute(where_filters(stmt, filters, survey_conditions(a))):
        answer = Answer(csat=r.csat, nps=r.nps, ces=r.ces, solved=r.solved)
        facts = {name: value for name in VISIT_FACTS if (value := getattr(r, name)) is not None}
        out.append(
            AnswerRow(
                r.id,
                answer,
                r.answered_at,
                r.ticket_id,
                r.ticket_number or "",
                _tz(r.tz),
                _survey_keys(r),
                facts,
            )
        )
    return out


def load_surveys(
    session: Session, lo: date, hi: date, filters: Filters, *, keyset: Keyset | None = None
) -> list[SurveyRow]:
    """Surveys sent in the local dates [lo, hi) (reminders are not extra surveys), answered or not
    (`keyset`: a batch)."""
    lo_at, hi_at = _window_utc(lo, hi)
    s = Survey
    stmt = select(s.id, s.sent_at, s.answered_at, *_survey_context(s))
    stmt = _survey_joins(stmt, s).where(s.sent_at >= lo_at, s.sent_at < hi_at)
    if keyset is not None:
        stmt = keyset.apply(stmt)
    return [
        SurveyRow(
            r.id,
            r.sent_at,
            r.answered_at is not None,
            r.ticket_id,
            r.ticket_number or "",
            _tz(r.tz),
            _survey_keys(r),
        )
        for r in session.execute(where_filters(stmt, filters, survey_conditions(s)))
    ]
