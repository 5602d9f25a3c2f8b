"""A small region for planning tests: two engineers, a warehouse, parts, visits around Munich."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app import models as m
from app.planning import notify
from tests import factories as f


def next_weekday(weekday: int = 0, tz: str = "Europe/Berlin") -> date:
    """`weekday` (0=Mon) of next week: a plan day in the future, whatever day the tests run."""
    today = datetime.now(ZoneInfo(tz)).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7)


def midday_zone() -> str:
    """A fixed-offset zone where it is now about noon: 'today' always has shift time left."""
    offset = (12 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 12 else offset
    offset = max(-12, min(14, offset))
    # Etc/GMT signs are inverted (Etc/GMT-2 is UTC+2).
    return "Etc/GMT" + ("" if offset == 0 else f"{-offset:+d}")


class Recorder:
    """Stands in for the customer notices' sender (the `outbox` fixture, conftest.py): what was sent."""

    def __init__(self) -> None:
        self.sent: list[notify.Notice] = []

    def send(self, notice: notify.Notice) -> None:
        self.sent.append(notice)


@dataclass
class World:
    region: m.Region
    engineers: list[m.Engineer]
    users: list[m.User]
    warehouse: m.Warehouse
    parts: list[m.Part]
    work_orders: list[m.WorkOrder] = field(default_factory=list)
    account: m.Account | None = None
    contact: m.Contact | None = None


def build(
    db: Session,
    *,
    jobs: int = 4,
    tz: str = "Europe/Berlin",
    shift: tuple[int, int] = (8, 17),
    all_week: bool = False,
) -> World:
    region = f.make_region(db, timezone=tz)
    users = [f.make_user(db, role="engineer"), f.make_user(db, role="engineer")]
    engineers = [
        f.make_engineer(
            db, region, skills=["HVAC"], user=users[0], home_latitude=48.14, home_longitude=11.50
        ),
        f.make_engineer(
            db, region, skills=["HVAC", "ELEC"], user=users[1], home_latitude=48.16, home_longitude=11.62
        ),
    ]
    for e in engineers:
        db.query(m.Shift).filter(m.Shift.engineer_id == e.id).delete()
        for wd in range(7 if all_week else 5):
            db.add(m.Shift(engineer_id=e.id, weekday=wd, starts=time(shift[0]), ends=time(shift[1])))
    warehouse = f.make_warehouse(db, region, latitude=48.18, longitude=11.56)
    parts = [f.make_part(db), f.make_part(db)]
    f.set_stock(db, f.location_of(db, warehouse=warehouse), parts[0], 3)
    f.set_stock(db, f.location_of(db, engineer=engineers[0]), parts[1], 2)
    db.flush()
    w = World(region, engineers, users, warehouse, parts)
    w.account = f.make_account(db, region=region)
    w.contact = f.make_contact(db, w.account)
    for i in range(jobs):
        add_visit(db, w, lat=48.12 + 0.01 * i, lon=11.52 + 0.015 * i)
    return w


def add_visit(
    db: Session,
    w: World,
    *,
    lat: float = 48.13,
    lon: float = 11.55,
    priority: str = "P3",
    skill: str = "HVAC",
    parts: list[tuple[int, int]] | None = None,
    duration_min: int = 45,
    **kw: object,
) -> m.WorkOrder:
    acc = w.account
    assert acc is not None
    site = f.make_site(db, acc, region=w.region, latitude=lat, longitude=lon)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill=skill))
    ticket = f.open_ticket(
        db, acc, asset=asset, priority=priority, contact_id=w.contact.id if w.contact else None
    )
    wo = f.make_work_order(db, ticket, duration_min=duration_min, required_parts=parts or [], **kw)
    w.work_orders.append(wo)
    return wo
