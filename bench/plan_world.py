"""Synthetic regions for the planning benchmarks: engineers with shifts, vans and skills, a
warehouse with parts, open visits around Munich. Deterministic for a given seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import time

from sqlalchemy.orm import Session

from app import models as m

SKILLS = ("HVAC", "ELEC", "PLUMB")
CENTRE = (48.137, 11.575)


@dataclass
class Region:
    id: int
    code: str
    engineer_ids: list[int]
    part_ids: list[int]
    account_id: int
    contact_id: int
    asset_ids: list[int]


def _point(rng: random.Random, spread: float = 0.12) -> tuple[float, float]:
    return CENTRE[0] + rng.uniform(-spread, spread) * 0.7, CENTRE[1] + rng.uniform(-spread, spread)


def make_region(
    session: Session,
    *,
    code: str,
    jobs: int,
    engineers: int,
    seed: int,
    tz: str = "Europe/Berlin",
    shift: tuple[int, int] = (8, 17),
    parts: int = 10,
) -> Region:
    """One region; every visit needs one skill, one in five a part (mostly in the warehouse)."""
    rng = random.Random(seed)
    region = m.Region(code=code, name=f"Bench {code}", timezone=tz)
    session.add(region)
    session.flush()
    part_rows = [m.Part(sku=f"{code}-P{i:02d}", name=f"Part {i}") for i in range(parts)]
    session.add_all(part_rows)
    wh = m.Warehouse(
        name=f"{code} depot",
        region_id=region.id,
        latitude=CENTRE[0] + 0.03,
        longitude=CENTRE[1],
        opens=time(7),
        closes=time(18),
        pickup_min=10,
    )
    session.add(wh)
    session.flush()
    wh_loc = m.StockLocation(kind="warehouse", warehouse_id=wh.id)
    session.add(wh_loc)
    engs = []
    for i in range(engineers):
        lat, lon = _point(rng, 0.15)
        skills = ["HVAC"] + [s for s in SKILLS[1:] if rng.random() < 0.5]
        engs.append(
            m.Engineer(
                name=f"{code} engineer {i + 1}",
                region_id=region.id,
                skills=skills,
                home_latitude=lat,
                home_longitude=lon,
            )
        )
    session.add_all(engs)
    session.flush()
    vans = [m.StockLocation(kind="van", engineer_id=e.id) for e in engs]
    session.add_all(vans)
    for e in engs:
        for wd in range(7):
            session.add(
                m.Shift(
                    engineer_id=e.id,
                    weekday=wd,
                    starts=time(shift[0]),
                    ends=time(shift[1]),
                    break_starts=time(12),
                    break_ends=time(12, 30),
                )
            )
    session.flush()
    for p in part_rows:
        session.add(m.StockLevel(location_id=wh_loc.id, part_id=p.id, quantity=40))
    for van in vans:
        for p in rng.sample(part_rows, 2):
            session.add(m.StockLevel(location_id=van.id, part_id=p.id, quantity=2))
    account = m.Account(name=f"{code} customers", name_search=f"{code} customers", region_id=region.id)
    session.add(account)
    session.flush()
    contact = m.Contact(
        account_id=account.id, name=f"{code} facility desk", email=f"desk@{code.lower()}.example"
    )
    model = {s: m.ProductModel(code=f"{code}-{s}", name=f"{s} unit", category=s, skill=s) for s in SKILLS}
    session.add(contact)
    session.add_all(model.values())
    session.flush()
    assets = []
    for i in range(jobs):
        lat, lon = _point(rng)
        site = m.Site(
            account_id=account.id,
            name=f"{code} site {i}",
            address=f"Benchstraße {i}, München",
            latitude=lat,
            longitude=lon,
            region_id=region.id,
        )
        session.add(site)
        session.flush()
        skill = rng.choices(SKILLS, (6, 3, 1))[0]
        asset = m.Asset(
            serial=f"{code}-SN{i:05d}",
            product_model_id=model[skill].id,
            account_id=account.id,
            site_id=site.id,
        )
        session.add(asset)
        session.flush()
        assets.append(asset.id)
        ticket = m.Ticket(
            account_id=account.id,
            contact_id=contact.id,
            asset_id=asset.id,
            site_id=site.id,
            channel="phone",
            subject=f"{skill} fault",
            priority=rng.choice(("P2", "P3", "P3", "P4")),
            status="open",
        )
        session.add(ticket)
        session.flush()
        wo = m.WorkOrder(
            ticket_id=ticket.id,
            account_id=account.id,
            site_id=site.id,
            asset_id=asset.id,
            region_id=region.id,
            priority=ticket.priority,
            status="unscheduled",
            required_skills=[skill],
            duration_min=rng.choice((30, 45, 60, 90)),
        )
        session.add(wo)
        session.flush()
        wo.number = f"WO-{wo.id:07d}"
        if rng.random() < 0.2:
            session.add(m.WorkOrderPart(work_order_id=wo.id, part_id=rng.choice(part_rows).id, quantity=1))
    session.flush()
    return Region(
        region.id, code, [e.id for e in engs], [p.id for p in part_rows], account.id, contact.id, assets
    )
