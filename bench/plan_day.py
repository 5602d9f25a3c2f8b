"""Full day plan of the demo company's largest region through the real task path:
`POST /api/v1/plans` (uvicorn) → Redis → `celery worker` (prefork) → PostgreSQL, with the wall
time split by stage: API answer, queue wait, load (rows → engine input), solve, publish.

The company is `fieldline seed` (default 300 customers, as `make run` creates it; `--customers`
for a bigger one). The region with the most engineers is planned for the next working day.

    .venv/bin/python bench/plan_day.py                 # PostgreSQL fl_plan_bench, Redis db 12
    .venv/bin/python bench/plan_day.py --customers 5000 --time-limit 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan_common import DEFAULT_BROKER, DEFAULT_DB, configure, fresh_database, machine, processes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--broker-url", default=DEFAULT_BROKER)
    ap.add_argument("--customers", type=int, default=300)
    ap.add_argument("--time-limit", type=float, default=30.0, help="solver time limit (PLAN_TIME_LIMIT_S)")
    ap.add_argument("--port", type=int, default=8773)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    configure(args.database_url, args.broker_url, PLAN_TIME_LIMIT_S=str(args.time_limit))
    fresh_database(args.database_url, args.broker_url)

    import httpx
    from sqlalchemy import func, select

    from app.models import Engineer, Region
    from app.planning.keys import local_day
    from app.planning.service import load
    from app.platform.db import unit_of_work, utcnow
    from app.seed.generate import seed
    from bench.plan_common import dispatcher_headers

    t = time.perf_counter()
    with unit_of_work() as s:
        seed(s, customers=args.customers, seed=42)
    print(f"seeded {args.customers} customers in {time.perf_counter() - t:.0f} s")
    with unit_of_work() as s:
        region_id, code, tz = s.execute(
            select(Region.id, Region.code, Region.timezone)
            .join(Engineer, Engineer.region_id == Region.id)
            .group_by(Region.id)
            .order_by(func.count(Engineer.id).desc(), Region.id)
        ).first()
        day = local_day(utcnow(), tz) + timedelta(days=1)
        while True:
            loaded = load(s, region_id=region_id, day=day)
            if loaded.problem is not None:
                break
            day += timedelta(days=1)
        size = (len(loaded.problem.engineers), len(loaded.problem.jobs), len(loaded.problem.warehouses))
    print(f"region {code} on {day}: {size[0]} engineers, {size[1]} visits to plan, {size[2]} warehouses")

    with processes() as procs:
        procs.worker("plans", "default,plans,urgent", 1)
        url = procs.api(args.port)
        client = httpx.Client(base_url=url, headers=dispatcher_headers(), timeout=60)
        t0 = time.perf_counter()
        r = client.post("/api/v1/plans", json={"region_id": region_id, "date": day.isoformat()})
        api_s = time.perf_counter() - t0
        r.raise_for_status()
        while True:
            run = client.get(r.headers["Location"]).json()
            if run["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        wall = time.perf_counter() - t0
        client.close()
    st, sm = run["stats"], run["summary"]
    print(f"plan run {run['id']}: {run['status']} {run.get('error') or ''}")
    print(
        f"  end to end {wall:.2f} s = API {api_s:.2f} + queue {st['queue_s']:.2f} + load {st['load_s']:.2f} "
        f"+ solve {st['solve_s']:.2f} + publish {st['publish_s']:.2f} (+ polling at 0.1 s)"
    )
    print(
        f"  served {sm.get('served')}/{st.get('jobs')}, unassigned {sm.get('unassigned_by_reason')}, "
        f"{sm.get('travel_km')} km, lateness {sm.get('lateness_s')} s, objective {run['objective']}, "
        f"first solution {st.get('engine', {}).get('first_objective')}"
    )
    print(f"  machine: {machine()}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "run": run,
                    "api_s": api_s,
                    "wall_s": wall,
                    "machine": machine(),
                    "region": code,
                    "day": day.isoformat(),
                    "size": size,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
