"""Reference data of the seeded company: regions, calendars with holidays, SLA targets, products
and parts, warehouses with stock, engineers with shifts and van stock, and demo users.

Rows that have a natural key (region code, calendar name, tier × priority, SKU, product code,
warehouse name, user e-mail) are created only when missing, so the seed can run on a database
where an admin or a calendar exists already.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update

from app.desk.sla import calendar as sla
from app.seed.calendar import FastCalendar, LocalDays, bavarian_holidays
from app.seed.data import (
    ALWAYS_CALENDAR,
    CALENDAR_HOURS,
    DISTRICTS,
    PARTS,
    PRODUCTS,
    REGIONS,
    SKILLS,
    SLA_TARGETS,
    WAREHOUSES,
    District,
    Product,
)
from app.seed.people import person, point
from app.seed.writer import BulkWriter, table

DEMO_DESK_USERS = (
    ("agent@example.com", "Anna Agent", "agent"),
    ("dispatcher@example.com", "Dieter Disponent", "dispatcher"),
    ("manager@example.com", "Maria Managerin", "manager"),
    ("admin@example.com", "Adam Admin", "admin"),
)
# Weekly patterns: (weekdays, start, end, break start, break end).
SHIFT_PATTERNS = (
    (0.65, (0, 1, 2, 3, 4), time(7, 30), time(16, 0), time(12, 0), time(12, 30)),
    (0.15, (0, 1, 2, 3, 4), time(7, 0), time(15, 30), time(11, 30), time(12, 0)),
    (0.12, (0, 1, 2, 3), time(7, 0), time(17, 30), time(12, 0), time(12, 45)),
    (0.08, (1, 2, 3, 4, 5), time(8, 0), time(16, 30), time(12, 30), time(13, 0)),
)


@dataclass(slots=True)
class EngineerInfo:
    id: int
    region: str
    skills: tuple[str, ...]
    van_id: int
    # weekday → (start, break start, break end, end) in seconds after local midnight
    shifts: dict[int, tuple[int, int, int, int]]
    user_id: int | None = None


@dataclass
class World:
    tz: ZoneInfo
    days: LocalDays
    today: int  # index of today in days
    regions: dict[str, int] = field(default_factory=dict)
    calendars: dict[str, int] = field(default_factory=dict)
    fast: dict[int, FastCalendar] = field(default_factory=dict)
    exact: dict[int, sla.Calendar] = field(default_factory=dict)
    holidays: set[date] = field(default_factory=set)
    parts: dict[str, int] = field(default_factory=dict)
    part_names: dict[int, str] = field(default_factory=dict)
    products: list[tuple[int, Product, list[int]]] = field(default_factory=list)  # (id, spec, part ids)
    engineers: list[EngineerInfo] = field(default_factory=list)
    by_region_skill: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    by_skill: dict[str, list[int]] = field(default_factory=dict)
    district_by_region: dict[str, list[District]] = field(default_factory=dict)
    engineer_names: dict[int, str] = field(default_factory=dict)


def _existing(w: BulkWriter, name: str, key: str) -> dict[object, int]:
    t = table(name)
    return {k: i for k, i in w.conn.execute(select(t.c[key], t.c.id))}


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60


def build_reference(w: BulkWriter, world: World, first: date, last: date) -> None:
    """Regions, calendars (+ Bavarian holidays), SLA targets, parts and product models."""
    have = _existing(w, "region", "code")
    rows: list[tuple[Any, ...]] = []
    for code, name in REGIONS.items():
        if code not in have:
            have[code] = w.next_id("region")
            rows.append((have[code], code, name, world.tz.key))
    w.write("region", ("id", "code", "name", "timezone"), rows)
    world.regions = {c: have[c] for c in REGIONS}
    for d in DISTRICTS:
        world.district_by_region.setdefault(d.region, []).append(d)

    have = _existing(w, "business_calendar", "name")
    rows = []
    for name, hours in CALENDAR_HOURS.items():
        if name not in have:
            have[name] = w.next_id("business_calendar")
            rows.append((have[name], name, world.tz.key, name == ALWAYS_CALENDAR, _json(hours)))
    w.write("business_calendar", ("id", "name", "timezone", "always_open", "hours"), rows)
    world.calendars = {n: have[n] for n in CALENDAR_HOURS}

    hol = table("holiday")
    known = {(c, d) for c, d in w.conn.execute(select(hol.c.calendar_id, hol.c.day))}
    rows = []
    for year in range(first.year, last.year + 1):
        for day, hname in bavarian_holidays(year):
            world.holidays.add(day)
            for cname, cid in world.calendars.items():
                if cname != ALWAYS_CALENDAR and (cid, day) not in known:
                    rows.append((w.next_id("holiday"), cid, day, hname))
    w.write("holiday", ("id", "calendar_id", "day", "name"), rows)
    # The SLA maths uses the calendars as stored: one that existed before keeps its own hours.
    bc = table("business_calendar")
    stored = {r.id: r for r in w.conn.execute(select(bc).where(bc.c.id.in_(world.calendars.values())))}
    for cid in world.calendars.values():
        row = stored[cid]
        days = list(w.conn.scalars(select(hol.c.day).where(hol.c.calendar_id == cid)))
        cal = sla.make_calendar(
            timezone=row.timezone, hours=row.hours or {}, holidays=days, always_open=row.always_open
        )
        world.exact[cid] = cal
        world.fast[cid] = FastCalendar(cal, first, last)

    st = table("sla_target")
    known_t = {(t, p) for t, p in w.conn.execute(select(st.c.tier, st.c.priority))}
    rows = [
        (w.next_id("sla_target"), tier, prio, *mins)
        for tier, by_prio in SLA_TARGETS.items()
        for prio, mins in by_prio.items()
        if (tier, prio) not in known_t
    ]
    w.write(
        "sla_target", ("id", "tier", "priority", "first_response_min", "arrival_min", "resolution_min"), rows
    )

    have = _existing(w, "part", "sku")
    rows = []
    for key, (sku, pname, cost) in PARTS.items():
        if sku not in have:
            have[sku] = w.next_id("part")
            rows.append((have[sku], sku, pname, cost, 1))
        world.parts[key] = have[sku]
        world.part_names[have[sku]] = pname
    w.write("part", ("id", "sku", "name", "unit_cost", "version"), rows)

    have = _existing(w, "product_model", "code")
    pmp = table("product_model_part")
    linked = {(a, b) for a, b in w.conn.execute(select(pmp.c.product_model_id, pmp.c.part_id))}
    rows, links = [], []
    for p in PRODUCTS:
        if p.code not in have:
            have[p.code] = w.next_id("product_model")
            rows.append((have[p.code], p.code, p.name, p.category, p.manufacturer, p.skill))
        part_ids = [world.parts[k] for k in p.parts]
        links += [(have[p.code], pid) for pid in part_ids if (have[p.code], pid) not in linked]
        world.products.append((have[p.code], p, part_ids))
    w.write("product_model", ("id", "code", "name", "category", "manufacturer", "skill"), rows)
    w.write("product_model_part", ("product_model_id", "part_id"), links)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def build_warehouses(w: BulkWriter, world: World, rng: random.Random) -> None:
    have = _existing(w, "warehouse", "name")
    rows, locs, levels = [], [], []
    for name, region, addr, lat, lon in WAREHOUSES:
        if name in have:
            continue
        wid = w.next_id("warehouse")
        rows.append((wid, name, world.regions[region], addr, lat, lon, time(6, 30), time(18, 0), 10))
        loc = w.next_id("stock_location")
        locs.append((loc, "warehouse", None, wid))
        for pid in world.parts.values():
            levels.append((w.next_id("stock_level"), loc, pid, rng.randint(4, 80), 0, 1))
    w.write(
        "warehouse",
        ("id", "name", "region_id", "address", "latitude", "longitude", "opens", "closes", "pickup_min"),
        rows,
    )
    w.write("stock_location", ("id", "kind", "engineer_id", "warehouse_id"), locs)
    w.write("stock_level", ("id", "location_id", "part_id", "quantity", "reserved", "version"), levels)


def engineer_count(customers: int) -> int:
    """The history has about 0.064 visits per customer and working day; an engineer does about
    three (100 minutes on site plus travel), leaving room for emergencies and re-planning."""
    return max(12, round(customers * 0.022))


def apportion(n: int, weights: list[float], minimum: int = 0) -> list[int]:
    """Split n into integer shares by weight (largest remainder), each at least `minimum`."""
    base = [minimum] * len(weights)
    rest = n - minimum * len(weights)
    if rest <= 0:
        return base
    total = sum(weights)
    exact = [rest * wgt / total for wgt in weights]
    shares = [b + int(x) for b, x in zip(base, exact, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: int(exact[i]) - exact[i])
    for i in order[: n - sum(shares)]:
        shares[i] += 1
    return shares


SKILL_WEIGHTS = [0.45, 0.2, 0.2, 0.08, 0.07]  # HVAC, LIFT, ELEC, NET, PUMP (demand of the product mix)


def build_engineers(w: BulkWriter, world: World, rng: random.Random, n: int) -> None:
    """Engineers per region by share of sites, primary skills by demand, and every region able
    to serve every skill (missing skills go to its engineers as second skills)."""
    regions = list(REGIONS)
    weights = [sum(d.weight for d in world.district_by_region[r]) for r in regions]
    infos: list[EngineerInfo] = []
    rows, shifts, vans, stock = [], [], [], []
    for region, k in zip(regions, apportion(n, weights, minimum=3), strict=True):
        members: list[EngineerInfo] = []
        for skill, m in zip(SKILLS, apportion(k, SKILL_WEIGHTS), strict=True):
            for _ in range(m):
                extra = rng.choice(SKILLS) if rng.random() < 0.3 else skill
                skills = (skill,) if extra == skill else (skill, extra)
                members.append(EngineerInfo(w.next_id("engineer"), region, skills, 0, {}))
        for i, skill in enumerate(s for s in SKILLS if not any(s in e.skills for e in members)):
            e = members[i % len(members)]
            e.skills = (*e.skills, skill)
        infos += members
    for e in infos:
        name, _, _ = person(rng)
        district = rng.choice(world.district_by_region[e.region])
        lat, lon = point(rng, district, 2.0)
        name = name.replace("Dr. ", "").replace("Dipl.-Ing. ", "")
        world.engineer_names[e.id] = name
        rows.append(
            (
                e.id,
                None,
                name,
                world.regions[e.region],
                _json(list(e.skills)),
                lat,
                lon,
                None,
                None,
                None,
                True,
                1,
            )
        )
        pattern = rng.choices(SHIFT_PATTERNS, [p[0] for p in SHIFT_PATTERNS])[0]
        _, wdays, start, end, bs, be = pattern
        for wd in wdays:
            shifts.append((w.next_id("shift"), e.id, wd, start, end, bs, be))
            e.shifts[wd] = (_secs(start), _secs(bs), _secs(be), _secs(end))
        e.van_id = w.next_id("stock_location")
        vans.append((e.van_id, "van", e.id, None))
        # A van carries about 60 % of the spares for its engineer's skills, plus consumables.
        consumables = {world.parts["fuse_kit"], world.parts["gasket_kit"]}
        relevant = sorted({pid for _, p, pids in world.products if p.skill in e.skills for pid in pids})
        for pid in relevant:
            if pid not in consumables and rng.random() < 0.6:
                stock.append((w.next_id("stock_level"), e.van_id, pid, rng.randint(1, 4), 0, 1))
        for pid in sorted(consumables):
            stock.append((w.next_id("stock_level"), e.van_id, pid, rng.randint(3, 10), 0, 1))
    world.engineers = infos
    for idx, e in enumerate(infos):
        for s in e.skills:
            world.by_region_skill.setdefault((e.region, s), []).append(idx)
            world.by_skill.setdefault(s, []).append(idx)
    w.write(
        "engineer",
        (
            "id",
            "user_id",
            "name",
            "region_id",
            "skills",
            "home_latitude",
            "home_longitude",
            "current_latitude",
            "current_longitude",
            "position_at",
            "active",
            "version",
        ),
        rows,
    )
    w.write("shift", ("id", "engineer_id", "weekday", "starts", "ends", "break_starts", "break_ends"), shifts)
    build_on_call(w, world)
    w.write("stock_location", ("id", "kind", "engineer_id", "warehouse_id"), vans)
    w.write("stock_level", ("id", "location_id", "part_id", "quantity", "reserved", "version"), stock)


def build_demo_users(w: BulkWriter, world: World, password_hash: str) -> int:
    """Desk users and engineer1..N (linked to the engineers); existing e-mails are left alone."""
    have = _existing(w, "user", "email")
    now = datetime.now(UTC)
    rows, links = [], []
    for email, name, role in DEMO_DESK_USERS:
        if email not in have:
            rows.append((w.next_id("user"), email, name, role, password_hash, True, now))
    for i, e in enumerate(world.engineers, start=1):
        email = f"engineer{i}@example.com"
        if email in have:
            continue
        uid = w.next_id("user")
        rows.append(
            (
                uid,
                email,
                world.engineer_names.get(e.id, f"Engineer {i}"),
                "engineer",
                password_hash,
                True,
                now,
            )
        )
        e.user_id = uid
        links.append((e.id, uid))
    w.write("user", ("id", "email", "name", "role", "password_hash", "is_active", "created_at"), rows)
    if links:
        eng = table("engineer")
        w.conn.execute(
            update(eng).where(eng.c.id == bindparam("eid")).values(user_id=bindparam("uid")),
            [{"eid": a, "uid": b} for a, b in links],
        )
    return len(rows)


def local_period(tz: ZoneInfo, today: date, back_days: int, ahead_days: int) -> LocalDays:
    return LocalDays(tz, today - timedelta(days=back_days), today + timedelta(days=ahead_days))


# On-call rota: one engineer per region covers the evenings and nights (17:00-08:00) and the
# weekend, taking turns week by week, from two weeks back to four weeks ahead.
ON_CALL_WEEKS_BACK, ON_CALL_WEEKS_AHEAD = 2, 4


def build_on_call(w: BulkWriter, world: World) -> None:
    today = world.days.days[world.today]
    monday = today - timedelta(days=today.weekday())
    rows = []
    for region in REGIONS:
        members = [e for e in world.engineers if e.region == region]
        for week in range(-ON_CALL_WEEKS_BACK, ON_CALL_WEEKS_AHEAD):
            e = members[(week + ON_CALL_WEEKS_BACK) % len(members)]
            start = monday + timedelta(weeks=week)
            for d in range(5):  # Monday to Friday evenings, through the night to 08:00
                day = start + timedelta(days=d)
                begin = datetime.combine(day, time(17), tzinfo=world.tz)
                end = datetime.combine(day + timedelta(days=1), time(8), tzinfo=world.tz)
                if d == 4:  # Friday evening runs through the weekend to Monday 08:00
                    end = datetime.combine(day + timedelta(days=3), time(8), tzinfo=world.tz)
                rows.append(
                    (w.next_id("on_call_shift"), e.id, begin.astimezone(UTC), end.astimezone(UTC), "rota")
                )
    w.write("on_call_shift", ("id", "engineer_id", "starts_at", "ends_at", "note"), rows)
