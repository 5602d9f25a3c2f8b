"""Customers of the seeded company: accounts, sites, contacts, contracts and assets.

`make_accounts` writes one chunk of accounts with everything that hangs off them and returns the
few facts the ticket history needs (tiers, contacts, assets with their contract and region).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from app.desk.customers.keys import account_and_name_key
from app.seed.data import (
    ACCESS_NOTES,
    ARR,
    DISTRICTS,
    SEGMENT_PRODUCTS,
    SEGMENTS,
    TIER_CALENDAR,
    TIERS,
    Product,
)
from app.seed.people import (
    address,
    ascii_slug,
    company_name,
    email,
    email_key,
    landline,
    mobile,
    name_key,
    person,
    phone_digits,
    point,
)
from app.seed.staff import Staff
from app.seed.world import World
from app.seed.writer import BulkWriter

ACCOUNT_COLS = (
    "id",
    "external_id",
    "name",
    "name_search",
    "tier",
    "segment",
    "region_id",
    "arr",
    "renewal_date",
    "owner_user_id",
    "language",
    "created_at",
    "version",
)
SITE_COLS = (
    "id",
    "external_id",
    "account_id",
    "name",
    "address",
    "latitude",
    "longitude",
    "region_id",
    "access_notes",
    "version",
)
CONTACT_COLS = (
    "id",
    "external_id",
    "account_id",
    "name",
    "name_search",
    "account_and_name_search",
    "email",
    "phone",
    "mobile",
    "phone_digits",
    "mobile_digits",
    "version",
)
CONTRACT_COLS = (
    "id",
    "external_id",
    "account_id",
    "number",
    "tier",
    "calendar_id",
    "starts_on",
    "ends_on",
    "version",
)
ASSET_COLS = (
    "id",
    "external_id",
    "serial",
    "product_model_id",
    "account_id",
    "site_id",
    "contract_id",
    "install_date",
    "warranty_end",
    "version",
)

SITES = {"platinum": (2, 5), "gold": (1, 3), "silver": (1, 2), "standard": (1, 1)}
ASSETS_PER_SITE = {"platinum": (1, 4), "gold": (1, 4), "silver": (1, 4), "standard": (1, 3)}
CONTACTS = {"platinum": (3, 6), "gold": (2, 4), "silver": (1, 3), "standard": (1, 2)}
_TIER_NAMES = [t for t, _ in TIERS]
_TIER_WEIGHTS = [w for _, w in TIERS]
_SEGMENT_NAMES = list(SEGMENTS)
_SEGMENT_WEIGHTS = [SEGMENTS[s][0] for s in _SEGMENT_NAMES]
_DISTRICT_WEIGHTS = [d.weight for d in DISTRICTS]


@dataclass(slots=True)
class ContractInfo:
    id: int
    tier: str
    calendar_id: int
    starts_on: date
    ends_on: date


@dataclass(slots=True)
class AssetInfo:
    id: int
    site_id: int
    region: str
    product: int  # index into World.products
    contract: ContractInfo | None
    since: date
    serial: str  # installed (no tickets before)


@dataclass(slots=True)
class AccountInfo:
    id: int
    tier: str
    contacts: list[int]
    assets: list[AssetInfo]
    site_ids: list[int]
    region: str  # the head office's region (a ticket without a site is worked by its desk team)
    # The account's service contract (at most one in the demo), also when no asset is on it: a
    # ticket without an asset takes its SLA from here (app/desk/sla/clock.py `entitlement`).
    contract: ContractInfo | None = None


def _serial(rng: random.Random, prefix: str, install: date, asset_id: int) -> str:
    """Manufacturer-like serial, unique through the asset id."""
    return f"{prefix}{install.year % 100:02d}{rng.randint(10, 99)}{asset_id:07d}"


def customer_language(account_id: int) -> str:
    """Munich customers read German; every sixth is an international firm written to in English.
    From the id, not the random stream: every other seeded value stays what it was."""
    return "en" if account_id % 6 == 0 else "de"


def make_accounts(
    w: BulkWriter, world: World, rng: random.Random, count: int, now: datetime, staff: Staff | None = None
) -> list[AccountInfo]:
    staff = staff or Staff()
    today = world.days.days[world.today]
    products_by_prefix: dict[str, list[int]] = {}
    for idx, (_, p, _) in enumerate(world.products):
        products_by_prefix.setdefault(p.code.split("-")[0] + "-", []).append(idx)
    accounts, sites, contacts, contracts, assets = [], [], [], [], []
    out: list[AccountInfo] = []
    for _ in range(count):
        aid = w.next_id("account")
        tier = rng.choices(_TIER_NAMES, _TIER_WEIGHTS)[0]
        segment = rng.choices(_SEGMENT_NAMES, _SEGMENT_WEIGHTS)[0]
        home = rng.choices(DISTRICTS, _DISTRICT_WEIGHTS)[0]
        addr, street = address(rng, home)
        name = company_name(rng, segment, home, street)
        domain = f"{ascii_slug(name)}.de" if segment not in ("residential",) else None
        lo, hi = ARR[tier]
        arr = Decimal(rng.randint(lo * 100, hi * 100)) / 100

        contract: ContractInfo | None = None
        if tier != "standard":
            years = rng.choice((1, 2, 3))
            if rng.random() < 0.1:  # lapsed: tickets after the end fall back to 'standard'
                ends = today - timedelta(days=rng.randint(1, 150))
            else:
                ends = today + timedelta(days=rng.randint(10, 700))
            starts = ends - timedelta(days=365 * years - 1)
            cid = w.next_id("contract")
            contract = ContractInfo(cid, tier, world.calendars[TIER_CALENDAR[tier]], starts, ends)
            contracts.append(
                (
                    cid,
                    f"CRM-C{cid + 500000}",
                    aid,
                    f"SV-{starts.year}-{cid:06d}",
                    tier,
                    contract.calendar_id,
                    starts,
                    ends,
                    1,
                )
            )
            renewal = ends + timedelta(days=1)
        else:
            renewal = today + timedelta(days=rng.randint(0, 365))
        created = now - timedelta(days=rng.randint(200, 3500), seconds=rng.randint(0, 86399))
        accounts.append(
            (
                aid,
                f"CRM-A{aid + 100000}",
                name,
                name_key(name),
                tier,
                segment,
                world.regions[home.region],
                arr,
                renewal,
                staff.owner(home.region, tier, aid),
                customer_language(aid),
                created,
                1,
            )
        )

        info = AccountInfo(aid, tier, [], [], [], home.region, contract)
        n_sites = rng.randint(*SITES[tier])
        for s in range(n_sites):
            district = home if s == 0 else rng.choices(DISTRICTS, _DISTRICT_WEIGHTS)[0]
            site_addr = addr if s == 0 else address(rng, district)[0]
            lat, lon = point(rng, district, 0.9)
            sid = w.next_id("site")
            label = "Hauptsitz" if s == 0 else f"Standort {district.name.split('-')[0]}"
            sites.append(
                (
                    sid,
                    f"CRM-S{sid + 200000}",
                    aid,
                    f"{name} – {label}",
                    site_addr,
                    lat,
                    lon,
                    world.regions[district.region],
                    rng.choice(ACCESS_NOTES),
                    1,
                )
            )
            info.site_ids.append(sid)
            prefixes = SEGMENT_PRODUCTS[segment]
            for _ in range(rng.randint(*ASSETS_PER_SITE[tier])):
                pidx = rng.choice(products_by_prefix[rng.choice(prefixes)])
                product: Product = world.products[pidx][1]
                if rng.random() < 0.06:  # recently installed: under warranty, little history
                    install = today - timedelta(days=rng.randint(14, 190))
                else:
                    install = today - timedelta(days=rng.randint(200, 4400))
                warranty_end = install + timedelta(days=365 * (5 if rng.random() < 0.4 else 2))
                covered = contract if contract is not None and rng.random() < 0.85 else None
                asset_id = w.next_id("asset")
                serial = _serial(rng, product.serial_prefix, install, asset_id)
                assets.append(
                    (
                        asset_id,
                        f"CRM-AS{asset_id + 300000}",
                        serial,
                        world.products[pidx][0],
                        aid,
                        sid,
                        covered.id if covered else None,
                        install,
                        warranty_end,
                        1,
                    )
                )
                info.assets.append(AssetInfo(asset_id, sid, district.region, pidx, covered, install, serial))
        for _ in range(rng.randint(*CONTACTS[tier])):
            cname, first, last = person(rng)
            phone = landline(rng, company=True) if rng.random() < 0.85 else None
            mob = mobile(rng) if rng.random() < 0.6 else None
            cid = w.next_id("contact")
            contacts.append(
                (
                    cid,
                    f"CRM-P{cid + 400000}",
                    aid,
                    cname,
                    name_key(cname),
                    account_and_name_key(name_key(name), name_key(cname)),
                    email_key(email(rng, first, last, domain)),
                    phone,
                    mob,
                    phone_digits(phone),
                    phone_digits(mob),
                    1,
                )
            )
            info.contacts.append(cid)
        out.append(info)
    w.write("account", ACCOUNT_COLS, accounts)
    w.write("site", SITE_COLS, sites)
    w.write("contact", CONTACT_COLS, contacts)
    w.write("contract", CONTRACT_COLS, contracts)
    w.write("asset", ASSET_COLS, assets)
    return out


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts), UTC)
