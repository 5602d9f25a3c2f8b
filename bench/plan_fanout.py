"""Fan-out: plan 20 regions × 200 visits through `POST /api/v1/plan-batches` (one task per region,
a chord collects), on one worker process and then on two. Each solve is bounded by a solution
limit in deterministic mode, so both runs do the same work; the speed-up is wall time 1 / wall
time 2. Between the runs the plans are taken back (visits unscheduled, plan rows deleted).

    .venv/bin/python bench/plan_fanout.py                 # PostgreSQL fl_plan_bench, Redis db 12
    .venv/bin/python bench/plan_fanout.py --regions 4 --jobs 50   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan_common import DEFAULT_BROKER, DEFAULT_DB, configure, fresh_database, machine, processes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--broker-url", default=DEFAULT_BROKER)
    ap.add_argument("--regions", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--engineers", type=int, default=20)
    ap.add_argument("--solution-limit", type=int, default=100)
    ap.add_argument("--port", type=int, default=8772)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    configure(args.database_url, args.broker_url)
    fresh_database(args.database_url, args.broker_url)

    import httpx

    from app.platform.db import unit_of_work
    from bench.plan_common import dispatcher_headers
    from bench.plan_world import make_region

    t = time.perf_counter()
    region_ids = []
    for i in range(args.regions):
        with unit_of_work() as s:
            region_ids.append(
                make_region(s, code=f"FAN{i:02d}", jobs=args.jobs, engineers=args.engineers, seed=100 + i).id
            )
    print(
        f"{args.regions} regions × {args.jobs} visits, {args.engineers} engineers each "
        f"(built in {time.perf_counter() - t:.0f} s)"
    )
    today = date.today()
    day = today + timedelta(days=(0 - today.weekday()) % 7 + 7)  # next week's Monday
    results = {}
    for concurrency in (1, 2):
        reset(region_ids)
        with processes() as procs:
            procs.worker(f"plans{concurrency}", "default,plans", concurrency)
            url = procs.api(args.port)
            client = httpx.Client(base_url=url, headers=dispatcher_headers(), timeout=60)
            t0 = time.perf_counter()
            r = client.post(
                "/api/v1/plan-batches",
                json={
                    "date": day.isoformat(),
                    "region_ids": region_ids,
                    "solution_limit": args.solution_limit,
                    "time_limit_s": 600,
                },
            )
            r.raise_for_status()
            loc = r.headers["Location"]
            while True:
                batch = client.get(loc).json()
                if batch["collected_at"]:
                    break
                if time.perf_counter() - t0 > 3600:
                    raise SystemExit("batch not collected after an hour")
                time.sleep(0.5)
            wall = time.perf_counter() - t0
            client.close()
        solve = sum(float(x["stats"].get("solve_s", 0)) for x in batch["runs"])
        objective = sum(int(x["objective"] or 0) for x in batch["runs"])
        results[concurrency] = {
            "wall_s": wall,
            "solve_s_sum": solve,
            "objective_sum": objective,
            "summary": batch["summary"],
        }
        print(
            f"  {concurrency} worker process(es): {wall:.1f} s wall, {solve:.1f} s of solving in total, "
            f"served {batch['summary']['served']}, statuses {batch['summary']['by_status']}, "
            f"objective sum {objective}"
        )
    speedup = results[1]["wall_s"] / results[2]["wall_s"]
    same = results[1]["objective_sum"] == results[2]["objective_sum"]
    print(f"speed-up with 2 processes: {speedup:.2f}× (same plans both times: {same})")
    print(f"machine: {machine()}")
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "speedup": speedup, "machine": machine()}, indent=1)
        )


def reset(region_ids: list[int]) -> None:
    """Take the plans back, so the next run solves the same input again."""
    from sqlalchemy import delete, update

    from app.models import (
        CustomerNotification,
        PlanDay,
        PlanRoute,
        PlanRun,
        PlanStop,
        PlanUnassigned,
        StockLevel,
        StockReservation,
        WorkOrder,
    )
    from app.platform.db import unit_of_work

    with unit_of_work() as s:
        s.execute(delete(CustomerNotification))
        s.execute(delete(StockReservation))
        s.execute(update(StockLevel).values(reserved=0))
        s.execute(delete(PlanDay))
        for model in (PlanStop, PlanRoute, PlanUnassigned):
            s.execute(delete(model))
        s.execute(delete(PlanRun))
        s.execute(
            update(WorkOrder)
            .where(WorkOrder.region_id.in_(region_ids))
            .values(status="unscheduled", engineer_id=None, planned_start_at=None, eta_at=None)
        )


if __name__ == "__main__":
    main()
