"""The demo company seed: consistent, deterministic, skips when seeded, users only in demo mode."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import models as m
from app.cli import cli
from app.desk.customers import service as customer_search
from app.desk.sla import status as sla_status
from app.platform.auth import verify_password
from app.platform.config import get_settings
from app.seed.data import SKILLS, SLA_TARGETS, STANDARD_CALENDAR
from app.seed.generate import AlreadySeeded, seed
from app.seed.people import phone_digits

NOW = datetime(2025, 6, 3, 9, 30, tzinfo=UTC)  # a Tuesday morning
PRIORITIES = ("P1", "P2", "P3", "P4")


def count(db: Session, model: type[Any]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def seeded(db: Session) -> Session:
    result = seed(db, customers=60, seed=7, now=NOW, demo_users=False)
    assert not result.skipped and result.counts["account"] == 60
    db.expire_all()
    return db


def test_customers_sites_assets_belong_together(seeded: Session) -> None:
    db = seeded
    assert count(db, m.Account) == 60
    sites = {s.id: s for s in db.scalars(select(m.Site))}
    contracts = {c.id: c for c in db.scalars(select(m.Contract))}
    assets = list(db.scalars(select(m.Asset)))
    assert len(assets) >= 120  # about three per customer
    for a in assets:
        assert sites[a.site_id].account_id == a.account_id
        if a.contract_id is not None:
            assert contracts[a.contract_id].account_id == a.account_id
        assert a.install_date is not None and a.warranty_end is not None and a.warranty_end > a.install_date
    assert any(a.warranty_end < NOW.date() for a in assets) and any(
        a.warranty_end > NOW.date() for a in assets
    )
    assert any(a.contract_id is None for a in assets)
    for s in sites.values():
        assert 48.06 <= s.latitude <= 48.25 and 11.36 <= s.longitude <= 11.73
        postcode = int(s.address.rsplit(", ", 1)[1].split()[0])
        assert 80331 <= postcode <= 81929 and s.address.endswith("München")
    accounts = list(db.scalars(select(m.Account)))
    assert {a.tier for a in accounts} <= {"platinum", "gold", "silver", "standard"}
    assert all(a.external_id and a.arr and a.renewal_date and a.name_search for a in accounts)
    regions = list(db.scalars(select(m.Region)))
    assert {r.name for r in regions} == {"München-Nord", "München-Ost", "München-Süd", "München-West"}
    assert {r.timezone for r in regions} == {"Europe/Berlin"}


def test_contacts_have_searchable_phones(seeded: Session) -> None:
    contacts = list(seeded.scalars(select(m.Contact)))
    assert len(contacts) >= 60
    with_phone = [c for c in contacts if c.phone]
    assert len({c.phone[:3] for c in with_phone}) > 2  # mixed formats: "089", "+49", "(08", "004"
    for c in with_phone:
        assert c.phone_digits == phone_digits(c.phone) and c.phone_digits.isdigit()
    assert all("@" in (c.email or "") for c in contacts)


def test_a_seeded_customer_is_found_by_company_word_and_person(seeded: Session) -> None:
    """The bulk seed writes the company + person key the app writes on save (keys.py), so the
    hotline's "Müller GmbH" finds seeded customers too."""
    contact = seeded.scalars(select(m.Contact).order_by(m.Contact.id)).first()
    assert contact is not None
    account = seeded.get(m.Account, contact.account_id)
    assert account is not None
    assert contact.account_and_name_search == f"{account.name_search}\t{contact.name_search}"
    query = f"{contact.name.split()[-1]} {account.name.split()[0]}"
    hits = customer_search.search(seeded, q=query, limit=100).items
    assert any(h.account_id == account.id and h.contact_id == contact.id for h in hits), (query, hits)


def test_calendars_targets_and_holidays(seeded: Session) -> None:
    db = seeded
    cals = {c.name: c for c in db.scalars(select(m.BusinessCalendar))}
    std = cals[STANDARD_CALENDAR]
    assert std.hours["0"] == [["08:00", "12:00"], ["13:00", "17:00"]] and "5" not in std.hours
    assert any(c.always_open for c in cals.values())
    days = set(db.scalars(select(m.Holiday.day).where(m.Holiday.calendar_id == std.id)))
    assert {date(2025, 6, 19), date(2025, 8, 15), date(2024, 12, 26)} <= days  # Fronleichnam, ...
    targets = {(t.tier, t.priority): t for t in db.scalars(select(m.SlaTarget))}
    assert set(targets) == {(tier, p) for tier in SLA_TARGETS for p in PRIORITIES}
    for t in targets.values():
        assert 0 < t.first_response_min < t.arrival_min < t.resolution_min
    for p in PRIORITIES:  # better tiers answer faster
        assert targets[("platinum", p)].first_response_min < targets[("standard", p)].first_response_min
    for c in db.scalars(select(m.Contract)):
        assert c.starts_on < c.ends_on


def test_engineers_have_shifts_vans_and_stock(seeded: Session) -> None:
    db = seeded
    engineers = list(db.scalars(select(m.Engineer)))
    assert len(engineers) >= 12
    by_region: dict[int, set[str]] = {}
    for e in engineers:
        shifts = list(db.scalars(select(m.Shift).where(m.Shift.engineer_id == e.id)))
        assert len(shifts) >= 4
        for s in shifts:
            assert s.starts < s.break_starts < s.break_ends < s.ends
        van = db.scalar(select(m.StockLocation).where(m.StockLocation.engineer_id == e.id))
        assert van is not None and van.kind == "van"
        assert count_where(db, m.StockLevel, m.StockLevel.location_id == van.id) > 0
        assert e.skills and set(e.skills) <= set(SKILLS) and e.user_id is None
        by_region.setdefault(e.region_id, set()).update(e.skills)
    assert all(skills == set(SKILLS) for skills in by_region.values())  # every region serves every skill
    assert 2 <= count(db, m.Warehouse) <= 3
    assert db.scalar(select(func.min(m.StockLevel.quantity))) >= 0
    assert db.scalar(select(func.count()).where(m.StockLevel.reserved > m.StockLevel.quantity)) == 0
    models = list(db.scalars(select(m.ProductModel)))
    assert {pm.category for pm in models} >= {
        "chiller",
        "heat_pump",
        "lift",
        "switchgear",
        "network_rack",
        "pump",
    }
    for pm in models:
        assert count_where(db, m.ProductModelPart, m.ProductModelPart.product_model_id == pm.id) >= 3


def count_where(db: Session, model: type[Any], cond: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(cond)) or 0


def _le(*values: datetime | None) -> bool:
    present = [v for v in values if v is not None]
    return all(a <= b for a, b in zip(present, present[1:], strict=False))


def test_ticket_history_is_ordered_and_cut_at_now(seeded: Session) -> None:
    db = seeded
    tickets = list(db.scalars(select(m.Ticket)))
    assert len(tickets) >= 60 * 7  # about ten per customer
    assert len({t.number for t in tickets}) == len(tickets)
    assert min(t.opened_at for t in tickets) >= NOW - timedelta(days=190)
    statuses = Counter(t.status for t in tickets)
    assert statuses["closed"] > len(tickets) // 2
    assert sum(statuses[s] for s in ("new", "open", "scheduled", "in_progress")) > 0  # open work today
    assert any(t.sla_breached for t in tickets) and sum(t.sla_breached for t in tickets) < len(tickets) / 3
    business = sum(1 for t in tickets if t.opened_at.weekday() < 5 and 5 <= t.opened_at.hour < 17)
    assert business > 0.7 * len(tickets)
    for t in tickets:
        assert t.number == f"T-{t.id:07d}"
        assert _le(t.opened_at, t.first_response_at, t.resolved_at, t.closed_at, NOW)
        assert _le(t.opened_at, t.first_visit_at, t.arrived_at, t.resolved_at)
        assert (t.resolved_at is not None) == (t.status in ("resolved", "closed"))
        assert (t.closed_at is not None) == (t.status == "closed")
        assert t.first_response_due_at is not None and t.resolution_due_at is not None
        assert t.first_response_due_at > t.opened_at
        events = list(
            db.scalars(
                select(m.TicketEvent).where(m.TicketEvent.ticket_id == t.id).order_by(m.TicketEvent.id)
            )
        )
        assert events[0].kind == "created" and events[0].at == t.opened_at
        assert _le(*(e.at for e in events)) and events[-1].at <= NOW
        status_events = [e for e in events if e.kind == "status"]
        assert (status_events[-1].data["to"] if status_events else "new") == t.status


HUMAN_CONTACT = {"reply": "reply", "call": "call"}  # timeline kind -> first_response_via


def test_first_response_is_the_first_human_contact(seeded: Session) -> None:
    """The corrected rule (docs/tickets.md "First response"): the first reply or logged call,
    never the planner's scheduling; a phone case's contact is a call on the phone."""
    db = seeded
    tickets = list(db.scalars(select(m.Ticket)))
    firsts: dict[int, m.TicketEvent] = {}
    for e in db.scalars(
        select(m.TicketEvent).where(m.TicketEvent.kind.in_(HUMAN_CONTACT)).order_by(m.TicketEvent.at)
    ):
        firsts.setdefault(e.ticket_id, e)
    vias = Counter()
    for t in tickets:
        first = firsts.get(t.id)
        if first is None:
            assert t.first_response_at is None and t.first_response_via is None
            continue
        assert (t.first_response_at, t.first_response_via) == (first.at, HUMAN_CONTACT[first.kind])
        assert t.first_contact_channel == ("phone" if first.kind == "call" else "email")
        if t.first_visit_at is not None:
            assert t.first_response_at <= t.first_visit_at  # contact before the visit is booked
        vias[t.first_response_via] += 1
    assert vias["call"] > 0 and vias["reply"] > 0
    met = {
        e.ticket_id: e.at
        for e in db.scalars(
            select(m.SlaEvent).where(m.SlaEvent.kind == "met", m.SlaEvent.metric == "first_response")
        )
    }
    assert met and all(met[tid] == firsts[tid].at for tid in met)


def test_no_closed_or_resolved_ticket_has_live_work(seeded: Session) -> None:
    db = seeded
    live = db.execute(
        select(m.Ticket.number, m.Ticket.status, m.WorkOrder.number, m.WorkOrder.status)
        .join(m.WorkOrder, m.WorkOrder.ticket_id == m.Ticket.id)
        .where(
            m.Ticket.status.in_(("resolved", "closed")),
            m.WorkOrder.status.in_(("unscheduled", "scheduled", "en_route", "on_site")),
        )
    ).all()
    assert live == []


def test_tickets_without_an_asset_take_the_accounts_contract(seeded: Session) -> None:
    """The seed decides entitlement as the app does: an inquiry of a contract customer gets the
    contract's tier while the contract is valid, not Standard."""
    from app.desk.sla import clock

    db = seeded
    bare = list(db.scalars(select(m.Ticket).where(m.Ticket.asset_id.is_(None)).order_by(m.Ticket.id)))
    assert bare
    tiers = Counter()
    for t in bare:
        ent = clock.ticket_entitlement(db, t)
        assert (t.sla_tier, t.sla_contract_id, t.sla_calendar_id) == (
            ent.tier,
            ent.contract_id,
            ent.calendar_id,
        )
        tiers[t.sla_tier] += 1
    assert tiers["standard"] < len(bare)  # some inquiries come from contract customers


def test_work_orders_are_consistent(seeded: Session) -> None:
    db = seeded
    engineers = {e.id: e for e in db.scalars(select(m.Engineer))}
    tickets = {t.id: t for t in db.scalars(select(m.Ticket))}
    orders = list(db.scalars(select(m.WorkOrder)))
    statuses = Counter(w.status for w in orders)
    assert statuses["done"] > 0 and statuses["needs_follow_up"] > 0  # some first-time-fix failures
    assert statuses["unscheduled"] + statuses["scheduled"] > 0  # something to plan
    upcoming = [w for w in orders if w.planned_start_at and w.planned_start_at > NOW]
    assert upcoming and min(w.planned_start_at for w in upcoming) < NOW + timedelta(days=3)
    booked: dict[int, list[tuple[datetime, datetime]]] = {}
    for w in orders:
        t = tickets[w.ticket_id]
        assert w.number == f"WO-{w.id:07d}"
        assert w.account_id == t.account_id and w.asset_id == t.asset_id and w.site_id == t.site_id
        assert _le(t.opened_at, w.created_at) and w.sla_deadline_at == t.arrival_due_at
        if w.status == "unscheduled":
            assert w.engineer_id is None and w.planned_start_at is None
            continue
        eng = engineers[w.engineer_id]
        assert set(w.required_skills) <= set(eng.skills)
        assert _le(w.created_at, w.planned_start_at) and _le(w.checked_in_at, w.checked_out_at, NOW)
        assert (w.checked_out_at is not None) == (w.status in ("done", "needs_follow_up"))
        assert (w.fixed_first_time is not None) == (w.checked_out_at is not None)
        if w.status == "needs_follow_up":  # a return visit follows (or is being planned)
            assert count_where(
                db, m.WorkOrder, (m.WorkOrder.ticket_id == w.ticket_id) & (m.WorkOrder.id > w.id)
            ) or t.status not in ("resolved", "closed")
        if not w.notes:  # in-shift visits of one engineer never overlap (on-call ones may)
            end = w.planned_start_at + timedelta(minutes=w.duration_min)
            booked.setdefault(w.engineer_id, []).append((w.planned_start_at, end))
    for spans in booked.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))
    usage = list(db.scalars(select(m.PartUsage)))
    assert usage and all(u.quantity > 0 for u in usage)
    windows = list(db.scalars(select(m.WorkOrderWindow)))
    assert windows and all(w.starts_at < w.ends_at for w in windows)


def test_sla_ledger_agrees_with_the_app(seeded: Session) -> None:
    """Due times and breach states replayed by app.desk.sla.status from the seeded ledger match the
    cached columns: the seed's fast calendar maths equals app.desk.sla.calendar."""
    db = seeded
    tickets = list(db.scalars(select(m.Ticket).order_by(m.Ticket.id)))
    sample = tickets[::7] + [t for t in tickets if t.status not in ("resolved", "closed")]
    assert sample, "no seeded tickets: the loop below would check nothing"
    settled = 0  # metrics whose met/breached state is compared with the ledger
    for t in sample:
        state = sla_status.metric_states(db, t, now=NOW)
        assert state["tier"] == t.sla_tier
        dues = {x["metric"]: x for x in state["metrics"]}
        assert dues["first_response"]["due_at"] == t.first_response_due_at
        assert dues["resolution"]["due_at"] == t.resolution_due_at
        if t.arrival_due_at is not None:
            assert dues["arrival"]["due_at"] == t.arrival_due_at
        breaches = {
            e.metric
            for e in db.scalars(
                select(m.SlaEvent).where(m.SlaEvent.ticket_id == t.id, m.SlaEvent.kind == "breach")
            )
        }
        assert t.sla_breached == bool(breaches)
        for metric, x in dues.items():
            if x["state"] in ("met", "breached") and x["achieved_at"] is not None:
                assert (x["state"] == "breached") == (metric in breaches), (t.number, metric)
                settled += 1
    assert settled, "no met or breached metric in the sample: the breach check compared nothing"


def _fingerprint(db: Session) -> tuple[Any, ...]:
    tables = (
        m.Account,
        m.Site,
        m.Contact,
        m.Asset,
        m.Ticket,
        m.WorkOrder,
        m.TicketEvent,
        m.SlaEvent,
        m.Engineer,
        m.StockLevel,
    )
    return (
        tuple(count(db, t) for t in tables),
        tuple(db.scalars(select(m.Asset.serial).order_by(m.Asset.id))),
        tuple(db.execute(select(m.Ticket.status, m.Ticket.opened_at).order_by(m.Ticket.id))),
        tuple(db.scalars(select(m.WorkOrder.status).order_by(m.WorkOrder.id))),
    )


def test_same_seed_same_company(db: Session) -> None:
    nested = db.begin_nested()
    seed(db, customers=15, seed=3, now=NOW, demo_users=False)
    first = _fingerprint(db)
    nested.rollback()
    assert count(db, m.Account) == 0
    nested = db.begin_nested()
    seed(db, customers=15, seed=3, now=NOW, demo_users=False)
    assert _fingerprint(db) == first
    nested.rollback()
    seed(db, customers=15, seed=4, now=NOW, demo_users=False)
    other = _fingerprint(db)
    assert other[1] != first[1]


def test_if_empty_skips_and_a_second_seed_is_refused(db: Session) -> None:
    seed(db, customers=5, seed=1, now=NOW, demo_users=False)
    tickets = count(db, m.Ticket)
    result = seed(db, customers=5, seed=1, now=NOW, if_empty=True)
    assert result.skipped and result.existing_accounts == 5
    with pytest.raises(AlreadySeeded):
        seed(db, customers=5, seed=1, now=NOW)
    assert count(db, m.Account) == 5 and count(db, m.Ticket) == tickets


def test_cli_outside_demo_mode_creates_no_users(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "demo_mode", False)
    result = CliRunner().invoke(cli, ["seed", "--customers", "5", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "create-user --role admin" in result.output
    assert count(db, m.User) == 0 and count(db, m.Account) == 5
    again = CliRunner().invoke(cli, ["seed", "--if-empty"])
    assert again.exit_code == 0 and "nothing seeded" in again.output
    refused = CliRunner().invoke(cli, ["seed"])
    assert refused.exit_code == 1 and "already has 5 customers" in refused.output


def test_cli_in_demo_mode_creates_demo_users(db: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "demo_mode", True)
    result = CliRunner().invoke(cli, ["seed", "--customers", "5"])
    assert result.exit_code == 0, result.output
    assert "recovery tickets for the detractors of the last 7 days" in result.output
    users = {u.email: u for u in db.scalars(select(m.User))}
    for email, role in (
        ("agent@example.com", "agent"),
        ("dispatcher@example.com", "dispatcher"),
        ("manager@example.com", "manager"),
        ("admin@example.com", "admin"),
    ):
        assert users[email].role == role
    engineers = list(db.scalars(select(m.Engineer).order_by(m.Engineer.id)))
    for i, e in enumerate(engineers, start=1):
        user = users[f"engineer{i}@example.com"]
        assert e.user_id == user.id and user.role == "engineer"
    assert len({u.password_hash for u in users.values()}) == 1  # hashed once
    assert verify_password(users["admin@example.com"].password_hash, "demo")


def test_existing_calendar_and_admin_are_kept(db: Session) -> None:
    """A database where the app already created its default calendar (no lunch break) and an
    admin: the seed keeps both, and its SLA due times follow the calendar as stored."""
    from app.desk.sla import clock as sla_clock
    from tests.factories import make_user

    cal = sla_clock.default_calendar(db)
    hours = dict(cal.hours)
    admin = make_user(db, role="admin", email="admin@example.com")
    db.flush()
    result = seed(db, customers=8, seed=5, now=NOW, demo_users=True)
    assert result.counts["business_calendar"] == 2  # the other two
    db.expire_all()
    assert db.get(m.BusinessCalendar, cal.id).hours == hours
    assert db.get(m.User, admin.id).password_hash == admin.password_hash  # not reset to 'demo'
    std = [t for t in db.scalars(select(m.Ticket)) if t.sla_calendar_id == cal.id]
    assert std
    for t in std[:25]:
        dues = {x["metric"]: x["due_at"] for x in sla_status.metric_states(db, t, now=NOW)["metrics"]}
        assert dues["first_response"] == t.first_response_due_at
        assert dues["resolution"] == t.resolution_due_at
