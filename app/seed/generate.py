"""`fieldline seed`: a deterministic, realistic service company in Munich.

Regions, calendars with Bavarian holidays, SLA targets, products with spare-parts lists,
warehouses, engineers with shifts and vans, customers with sites, contacts, contracts and
assets, and six months of tickets and visits cut at the present (so there are open tickets and
visits to plan today and tomorrow). The same `seed` and `now` give the same rows; `now`
defaults to the current minute.

Everything is written in one transaction with Core bulk inserts (COPY on PostgreSQL) and
precomputed ids, customers in chunks so memory stays flat at 100 000 customers.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.field.workorders import risk
from app.models import Account
from app.platform.config import get_settings
from app.seed.cases import CaseMaker
from app.seed.customers import make_accounts
from app.seed.history import HistoryWriter
from app.seed.slots import Slots
from app.seed.staff import Staff, build_staff
from app.seed.world import (
    World,
    build_demo_users,
    build_engineers,
    build_reference,
    build_warehouses,
    engineer_count,
    local_period,
)
from app.seed.writer import BulkWriter

HISTORY_DAYS = 182
CHUNK_ACCOUNTS = 2000
# Tables that grow with --customers: their secondary indexes are built after the load.
BULK_TABLES = (
    "account",
    "site",
    "contact",
    "contract",
    "asset",
    "ticket",
    "ticket_event",
    "sla_event",
    "work_order",
    "work_order_event",
    "work_order_part",
    "work_order_window",
    "part_usage",
    "survey",
    "survey_answer",
)

Progress = Callable[[str, int, int, int], None]  # (phase, done, total, rows written)


@dataclass
class SeedResult:
    skipped: bool = False
    existing_accounts: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    demo_users: int = 0
    seconds: float = 0.0


class AlreadySeeded(ValueError):
    """The database has customers already (seeding twice would duplicate the company)."""


def _no_progress(phase: str, done: int, total: int, rows: int) -> None:
    return None


def seed(
    session: Session,
    *,
    customers: int = 300,
    seed: int = 42,
    if_empty: bool = False,
    demo_users: bool | None = None,
    now: datetime | None = None,
    progress: Progress = _no_progress,
) -> SeedResult:
    """Build the demo company; flushes through `session`'s connection, never commits.

    `demo_users` defaults to settings.demo_mode: only then are users with the password
    'demo' created. Raises AlreadySeeded when accounts exist (unless `if_empty`, which skips).
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    started = time.perf_counter()
    existing = session.scalar(select(func.count()).select_from(Account)) or 0
    if existing:
        if if_empty:
            return SeedResult(skipped=True, existing_accounts=existing)
        raise AlreadySeeded(
            f"the database already has {existing} customers; seed an empty database "
            "(or pass --if-empty to skip)"
        )
    settings = get_settings()
    with_users = settings.demo_mode if demo_users is None else demo_users
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    tz = ZoneInfo(settings.time_zone)
    today = now.astimezone(tz).date()
    days = local_period(tz, today, HISTORY_DAYS + 2, 75)
    world = World(tz=tz, days=days, today=days.index(today))
    rng = random.Random(seed)
    session.flush()
    w = BulkWriter(session)
    w.defer_indexes(BULK_TABLES)
    w.skip_fk_checks()

    progress("reference data", 0, 1, 0)
    build_reference(w, world, days.days[0], days.days[-1])
    build_warehouses(w, world, rng)
    build_engineers(w, world, rng, engineer_count(customers))
    users = 0
    staff = Staff()  # no users, no owners: recovery tickets go to the recovery queue
    if with_users:
        from app.platform.auth import hash_password
        from app.platform.passwords import DEMO_PASSWORD

        demo_hash = hash_password(DEMO_PASSWORD)  # hashed once: argon2 is slow
        build_demo_users(w, world, demo_hash)
        # The desk's names draw from their own stream, so the rest of the demo is unchanged.
        staff = build_staff(w, demo_hash, customers, random.Random(seed + 2), now)
        users = w.counts["user"]
    progress("reference data", 1, 1, w.total)

    w.background(BULK_TABLES)
    maker = CaseMaker(world, rng, Slots(world, rng), w.next_id, now.timestamp(), HISTORY_DAYS)
    # Survey answers draw from their own stream, so adding them left the rest of the demo unchanged.
    history = HistoryWriter(w, world, now.timestamp(), random.Random(seed + 1), staff)
    done = 0
    progress("customers and history", 0, customers, w.total)
    try:
        while done < customers:
            n = min(CHUNK_ACCOUNTS, customers - done)
            for acc in make_accounts(w, world, rng, n, now, staff):
                for case in sorted(maker.cases(acc), key=lambda c: c.opened):
                    history.add(case, acc.region)
            history.flush()
            done += n
            progress("customers and history", done, customers, w.total)
    except BaseException:
        w.drain(reraise=False)  # the connection is free again for the rollback
        raise
    progress("indexes and statistics", 0, 1, w.total)
    w.finish()
    # The history leaves some visits planned after their arrival due time: mark them at risk as
    # the running service would have, so the demo shows no P1 silently running late.
    risk.sweep(session, at=now)
    progress("indexes and statistics", 1, 1, w.total)
    return SeedResult(counts=dict(w.counts), demo_users=users, seconds=time.perf_counter() - started)
