"""Plain functions that make realistic rows for tests. Each flushes and returns the object."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app import models as m
from app.platform.auth import hash_password, issue_token

_seq = itertools.count(1)
_HASH = hash_password("correct horse battery")  # hashing is slow: reuse one hash


def n() -> int:
    return next(_seq)


def make_user(
    db: Session, *, role: str = "agent", email: str | None = None, password: str | None = None, **kw: Any
) -> m.User:
    i = n()
    user = m.User(
        email=email or f"{role}{i}@test.example",
        name=kw.pop("name", f"{role} {i}"),
        role=role,
        password_hash=hash_password(password) if password else _HASH,
        **kw,
    )
    db.add(user)
    db.flush()
    return user


def bearer(user: m.User) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user)}"}


def make_region(db: Session, **kw: Any) -> m.Region:
    i = n()
    region = m.Region(
        code=kw.pop("code", f"R{i}"),
        name=kw.pop("name", f"Region {i}"),
        timezone=kw.pop("timezone", "Europe/Berlin"),
        **kw,
    )
    db.add(region)
    db.flush()
    return region


def make_calendar(db: Session, *, always_open: bool = False, **kw: Any) -> m.BusinessCalendar:
    hours = {str(d): [["08:00", "12:00"], ["13:00", "17:00"]] for d in range(5)}
    cal = m.BusinessCalendar(
        name=kw.pop("name", f"Calendar {n()}"),
        always_open=always_open,
        hours=kw.pop("hours", hours),
        timezone=kw.pop("timezone", "Europe/Berlin"),
        **kw,
    )
    db.add(cal)
    db.flush()
    return cal


def make_account(db: Session, *, region: m.Region | None = None, **kw: Any) -> m.Account:
    i = n()
    name = kw.pop("name", f"Acme {i} GmbH")
    acc = m.Account(
        name=name,
        name_search=name.lower(),
        tier=kw.pop("tier", "gold"),
        segment=kw.pop("segment", "manufacturing"),
        region_id=region.id if region else None,
        external_id=kw.pop("external_id", f"CRM-A{i}"),
        **kw,
    )
    db.add(acc)
    db.flush()
    return acc


def make_contact(db: Session, account: m.Account, **kw: Any) -> m.Contact:
    i = n()
    contact = m.Contact(
        account_id=account.id,
        name=kw.pop("name", f"Contact {i}"),
        email=kw.pop("email", f"contact{i}@customer.example"),
        phone=kw.pop("phone", None),
        external_id=kw.pop("external_id", None),
        **kw,
    )
    db.add(contact)
    db.flush()
    return contact


def make_site(db: Session, account: m.Account, *, region: m.Region | None = None, **kw: Any) -> m.Site:
    i = n()
    site = m.Site(
        account_id=account.id,
        name=kw.pop("name", f"Plant {i}"),
        address=kw.pop("address", f"Industriestr. {i}, 80939 München"),
        latitude=kw.pop("latitude", 48.14),
        longitude=kw.pop("longitude", 11.58),
        region_id=region.id if region else account.region_id,
        **kw,
    )
    db.add(site)
    db.flush()
    return site


def make_part(db: Session, **kw: Any) -> m.Part:
    i = n()
    part = m.Part(sku=kw.pop("sku", f"P-{i:05d}"), name=kw.pop("name", f"Part {i}"), **kw)
    db.add(part)
    db.flush()
    return part


def make_product_model(db: Session, **kw: Any) -> m.ProductModel:
    i = n()
    pm = m.ProductModel(
        code=kw.pop("code", f"PM-{i}"),
        name=kw.pop("name", f"Chiller {i}"),
        category=kw.pop("category", "HVAC"),
        skill=kw.pop("skill", "HVAC"),
        **kw,
    )
    db.add(pm)
    db.flush()
    return pm


def make_contract(db: Session, account: m.Account, calendar: m.BusinessCalendar, **kw: Any) -> m.Contract:
    i = n()
    today = date.today()
    contract = m.Contract(
        account_id=account.id,
        number=kw.pop("number", f"C-{i:05d}"),
        tier=kw.pop("tier", account.tier),
        calendar_id=calendar.id,
        starts_on=kw.pop("starts_on", today - timedelta(days=365)),
        ends_on=kw.pop("ends_on", today + timedelta(days=365)),
        **kw,
    )
    db.add(contract)
    db.flush()
    return contract


def make_asset(
    db: Session,
    site: m.Site,
    *,
    product_model: m.ProductModel | None = None,
    contract: m.Contract | None = None,
    **kw: Any,
) -> m.Asset:
    i = n()
    pm = product_model or make_product_model(db)
    asset = m.Asset(
        serial=kw.pop("serial", f"SN-{i:08d}"),
        product_model_id=pm.id,
        account_id=site.account_id,
        site_id=site.id,
        contract_id=contract.id if contract else None,
        install_date=kw.pop("install_date", date.today() - timedelta(days=400)),
        warranty_end=kw.pop("warranty_end", date.today() + timedelta(days=300)),
        **kw,
    )
    db.add(asset)
    db.flush()
    return asset


def make_engineer(
    db: Session, region: m.Region, *, skills: list[str] | None = None, user: m.User | None = None, **kw: Any
) -> m.Engineer:
    i = n()
    eng = m.Engineer(
        name=kw.pop("name", f"Engineer {i}"),
        region_id=region.id,
        skills=skills or ["HVAC"],
        user_id=user.id if user else None,
        home_latitude=kw.pop("home_latitude", 48.15),
        home_longitude=kw.pop("home_longitude", 11.55),
        **kw,
    )
    db.add(eng)
    db.flush()
    for wd in range(5):
        db.add(
            m.Shift(
                engineer_id=eng.id,
                weekday=wd,
                starts=time(8),
                ends=time(17),
                break_starts=time(12),
                break_ends=time(12, 30),
            )
        )
    db.add(m.StockLocation(kind="van", engineer_id=eng.id))
    db.flush()
    return eng


def make_webhook_subscription(
    db: Session, url: str, *, events: list[str] | None = None, **kw: Any
) -> m.WebhookSubscription:
    from app.integrations.webhooks.signing import new_secret

    sub = m.WebhookSubscription(url=url, events=events or [], secret=kw.pop("secret", new_secret()), **kw)
    db.add(sub)
    db.flush()
    return sub


def make_warehouse(db: Session, region: m.Region, **kw: Any) -> m.Warehouse:
    """A warehouse with its stock location (open 07:00–18:00)."""
    i = n()
    wh = m.Warehouse(
        name=kw.pop("name", f"Depot {i}"),
        region_id=region.id,
        latitude=kw.pop("latitude", 48.20),
        longitude=kw.pop("longitude", 11.60),
        opens=kw.pop("opens", time(7)),
        closes=kw.pop("closes", time(18)),
        **kw,
    )
    db.add(wh)
    db.flush()
    db.add(m.StockLocation(kind="warehouse", warehouse_id=wh.id))
    db.flush()
    return wh


def location_of(
    db: Session, *, engineer: m.Engineer | None = None, warehouse: m.Warehouse | None = None
) -> m.StockLocation:
    """The van of an engineer or the stock location of a warehouse."""
    from sqlalchemy import select

    col = m.StockLocation.engineer_id if engineer else m.StockLocation.warehouse_id
    owner = engineer or warehouse
    assert owner is not None
    return db.scalars(select(m.StockLocation).where(col == owner.id)).one()


def set_stock(db: Session, location: m.StockLocation, part: m.Part, quantity: int) -> m.StockLevel:
    level = m.StockLevel(location_id=location.id, part_id=part.id, quantity=quantity)
    db.add(level)
    db.flush()
    return level


def open_ticket(
    db: Session, account: m.Account, *, asset: m.Asset | None = None, priority: str = "P2", **kw: Any
) -> m.Ticket:
    """A ticket opened through the ticket service (numbered, SLA clock started)."""
    from app.desk.tickets import service as tickets

    return tickets.create_ticket(
        db,
        account_id=account.id,
        asset_id=asset.id if asset else None,
        subject=kw.pop("subject", "Unit down"),
        priority=priority,
        channel=kw.pop("channel", "phone"),
        actor=None,
        **kw,
    )


def make_work_order(db: Session, ticket: m.Ticket, **kw: Any) -> m.WorkOrder:
    """An unscheduled visit for `ticket` through the work-order service."""
    from app.field.workorders import service as workorders

    return workorders.create_work_order(db, ticket_id=ticket.id, actor=None, **kw)
