"""One periodic KPI refresh after a simulated working day: seconds, rows rewritten, days per metric.

    PYTHONPATH=$PWD .venv/bin/python bench/kpi_refresh_day.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_bench --before /work/main

It needs a seeded database whose kpi_day is built (`bench/kpis.py` builds it); it WRITES: the day's
tickets, plans and visits are committed (a run prefix in the tickets' subject). Steps:

1. a refresh, so that what came before is settled;
2. the day, through the services: `--tickets` tickets opened by the desk service (an agent's
   call), `--plans` region-days planned and published by the planning service (as `fieldline
   plan`: the real solver, `--plan-limit-s` each), `--visits` scheduled visits checked in, checked
   out and reported fixed by the field service;
3. the refresh timed, in a transaction rolled back, then again committed (the second run is the
   one the job would make; the first warms the same caches the job has on a busy database);
4. with `--before PATH` (a checkout of the `updated_at` design, e.g. main before kpi_dirty), that
   checkout's refresh on the same changes (everything updated since step 2 began), rolled back.

Every figure comes with the `uptime` load: smoke unless the machine runs nothing else.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BEFORE = """
import sys, time
from datetime import datetime
from app.platform.db import new_session
from app.insights import aggregates
from app.models import KpiRefresh
s = new_session()
s.get(KpiRefresh, 1).refreshed_at = datetime.fromisoformat(sys.argv[1])
t = time.monotonic()
n = aggregates.refresh(s)
print(n, round(time.monotonic() - t, 1))
s.rollback()
"""


def load() -> str:
    return os.getloadavg().__repr__()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--tickets", type=int, default=110)
    ap.add_argument("--plans", type=int, default=20)
    ap.add_argument("--plan-limit-s", type=float, default=3.0)
    ap.add_argument("--visits", type=int, default=16)
    ap.add_argument("--before", help="a checkout of the updated_at design to time on the same changes")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-refresh", action="store_true", help="stop after the day (kpi_dirty kept)")
    args = ap.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DEMO_MODE", "1")

    from sqlalchemy import func, select

    from app.desk.tickets import service as tickets
    from app.field.workorders import visits
    from app.hooks import install_domain_hooks
    from app.insights import aggregates
    from app.models import Account, KpiDirty, KpiRefresh, Region, WorkOrder
    from app.planning import runs as plan_runs
    from app.planning.keys import local_day
    from app.platform.db import new_session, unit_of_work, utcnow

    install_domain_hooks()
    rng = random.Random(args.seed)
    with unit_of_work() as s:
        if s.get(KpiRefresh, 1) is None:
            sys.exit("kpi_day is not built: run bench/kpis.py (or the periodic job) first")
        t = time.monotonic()
        n = aggregates.refresh(s)
        print(f"settling refresh: {n} rows in {time.monotonic() - t:.1f} s, load {load()}")
    began = utcnow()
    prefix = f"kpiday-{began:%H%M%S}"

    t = time.monotonic()
    with unit_of_work() as s:
        accounts = list(s.scalars(select(Account.id).order_by(Account.id).limit(5000)))
        for i in range(args.tickets):
            tickets.create_ticket(
                s,
                account_id=rng.choice(accounts),
                subject=f"{prefix} unit down {i}",
                priority=rng.choice(["P2", "P3", "P3", "P4"]),
                channel=rng.choice(["phone", "email", "web"]),
                actor=None,
            )
    print(f"{args.tickets} tickets opened in {time.monotonic() - t:.1f} s")

    with unit_of_work() as s:
        regions = [(r.id, r.timezone) for r in s.scalars(select(Region).order_by(Region.id))]
    statuses: dict[str, int] = defaultdict(int)
    t = time.monotonic()
    for i in range(args.plans):
        region_id, tz = regions[i % len(regions)]
        day = local_day(utcnow(), tz) + timedelta(days=1 + i // len(regions))
        with unit_of_work() as s:
            run_id = plan_runs.create_run(
                s, region_id=region_id, day=day, trigger="cli", time_limit_s=args.plan_limit_s, send=False
            ).id
        statuses[plan_runs.execute(run_id)] += 1
    print(f"{args.plans} plans in {time.monotonic() - t:.1f} s: {dict(statuses)}")

    t = time.monotonic()
    with unit_of_work() as s:
        ids = list(
            s.scalars(
                select(WorkOrder.id)
                .where(
                    WorkOrder.status == "scheduled",
                    WorkOrder.checked_in_at.is_(None),
                    WorkOrder.engineer_id.is_not(None),
                )
                .order_by(WorkOrder.planned_start_at)
                .limit(args.visits)
            )
        )
    busy = 0
    for wo_id in ids:
        with unit_of_work() as s:
            wo = s.get(WorkOrder, wo_id)
            assert wo is not None
            # The demo seeds visits on site at the seeding hour: that engineer may not check in
            # elsewhere (409 by design), so such a visit is skipped, not a crash of the bench.
            on_site = s.scalar(
                select(WorkOrder.id).where(
                    WorkOrder.engineer_id == wo.engineer_id, WorkOrder.status == "on_site"
                )
            )
            if on_site is not None:
                busy += 1
                continue
            visits.check_in(s, work_order=wo, actor=None)
            visits.check_out(s, work_order=wo, actor=None)
            visits.report(
                s, work_order=wo, work_done="replaced the fan", parts_used=[], fixed=True, actor=None
            )
    done = len(ids) - busy
    print(
        f"{done} visits checked in, out and reported in {time.monotonic() - t:.1f} s"
        f" ({busy} skipped: engineer on site elsewhere)"
    )

    with unit_of_work() as s:
        print(f"kpi_dirty rows recorded by the day: {s.scalar(select(func.count()).select_from(KpiDirty))}")

    if args.no_refresh:
        return
    days: dict[tuple[str, ...], int] = {}
    real = aggregates.rebuild_days

    def spy(session, chosen, as_of=None, metrics=aggregates.AGGREGATED):  # type: ignore[no-untyped-def]
        chosen = set(chosen)
        days[tuple(metrics)] = len(chosen)
        return real(session, chosen, as_of=as_of, metrics=metrics)

    aggregates.rebuild_days = spy  # type: ignore[assignment]
    for commit in (False, True):
        s = new_session()
        t = time.monotonic()
        n = aggregates.refresh(s)
        took = time.monotonic() - t
        (s.commit if commit else s.rollback)()
        s.close()
        kind = "committed" if commit else "rolled back"
        print(f"refresh ({kind}): {n} rows in {took:.1f} s, load {load()}")
    for metrics, count in sorted(days.items(), key=lambda kv: -kv[1]):
        print(f"  {count:4d} days: {', '.join(metrics)}")
    if args.before:
        env = {**os.environ, "PYTHONPATH": args.before}
        t = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", BEFORE, began.isoformat()],
            env=env,
            cwd=args.before,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        print(f"before ({args.before}, updated_at): {out[0]} rows in {out[1]} s, load {load()}")


if __name__ == "__main__":
    main()
