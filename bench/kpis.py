"""KPI dashboard speed on a seeded database: each dashboard query's p95 over a 90-day window with
no filter and with any one filter, and the whole dashboard page (targets: < 300 ms, < 1 s).

Seeds the database first when it has no customers (and prints how long that took); reuses it
otherwise. Runs in-process (service calls, and the page through FastAPI's TestClient), so the
numbers are the server's own work without network or worker scheduling.

    .venv/bin/python bench/kpis.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_kpis \
        --customers 100000                          # the issue's size (seeding takes minutes)
    .venv/bin/python bench/kpis.py --customers 300  # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_kpis"
QUERY_LIMIT_MS = 300.0
PAGE_LIMIT_MS = 1000.0


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument(
        "--customers", type=int, default=100_000, help="seed this many when the database is empty"
    )
    ap.add_argument("--repeats", type=int, default=10, help="timed runs per query (after one warm-up)")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--raw", action="store_true", help="time the raw path (no kpi_day) for comparison")
    args = ap.parse_args()
    os.environ.update(
        DATABASE_URL=args.database_url, DEMO_MODE="0", SCHEDULER_ENABLED="0", TASK_ALWAYS_EAGER="1"
    )
    os.environ.setdefault("SECRET_KEY", "bench-secret")

    from fastapi.testclient import TestClient
    from sqlalchemy import func, select, text

    from app.insights import aggregates, service
    from app.insights.metrics import METRICS
    from app.insights.records import Filters
    from app.main import app
    from app.models import Account, Engineer, KpiRefresh, ProductModel, Region, Ticket, User, WorkOrder
    from app.platform.auth import hash_password, issue_token
    from app.platform.db import get_engine, new_session, unit_of_work
    from app.platform.deps import SESSION_COOKIE
    from app.platform.migrations import upgrade_head
    from app.seed.generate import seed

    engine = get_engine()
    with engine.begin() as conn:
        upgrade_head(conn)
    with new_session() as db:
        existing = db.scalar(select(func.count()).select_from(Account)) or 0
    if not existing:
        started = time.perf_counter()
        with unit_of_work() as db:
            seed(db, customers=args.customers, seed=42, demo_users=False)
        print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.1f} s")
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    with new_session() as db:
        counts = {
            "accounts": db.scalar(select(func.count()).select_from(Account)),
            "tickets": db.scalar(select(func.count()).select_from(Ticket)),
            "work orders": db.scalar(select(func.count()).select_from(WorkOrder)),
        }
        region = db.scalar(select(Region.code).order_by(Region.id))
        engineer = db.scalar(select(Engineer.id).order_by(Engineer.id))
        model = db.scalar(select(ProductModel.code).order_by(ProductModel.id))
        manager = db.scalar(select(User).where(User.role == "manager"))
        if manager is None:
            manager = User(email="kpi-bench@bench.example", name="KPI bench", role="manager",
                           password_hash=hash_password("kpi-bench-unused"))  # fmt: skip
            db.add(manager)
            db.commit()
        token = issue_token(manager)
    print(", ".join(f"{k} {v:,}" for k, v in counts.items()), f"· {engine.dialect.name} · {platform.node()}")
    with new_session() as db:
        built = db.scalar(select(func.count()).select_from(KpiRefresh))
    if not built:
        started = time.perf_counter()
        with unit_of_work() as db:
            rows = aggregates.refresh(db)
        print(f"built kpi_day (400 days): {rows:,} rows in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with unit_of_work() as db:
        rows = aggregates.refresh(db)
    print(
        f"one periodic refresh (touched days + the last 2, or 31 for FTF and response rate): {rows:,} rows"
        f" in {time.perf_counter() - started:.1f} s"
    )
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1/5/15 min)")

    end = datetime.now(UTC).date()
    start = end - timedelta(days=args.days - 1)
    filters: dict[str, Filters] = {
        "none": Filters(),
        "region": Filters(region=region),
        "engineer": Filters(engineer=str(engineer)),
        "product_model": Filters(product_model=model),
        "tier": Filters(tier="gold"),
        "channel": Filters(channel="phone"),
    }
    source = "raw rows" if args.raw else "kpi_day where it answers"
    print(
        f"\n{args.days}-day window {start} … {end}, weekly periods, {source}; p95 of {args.repeats} runs (ms)"
    )
    print(f"{'metric':<26}" + "".join(f"{k:>14}" for k in filters))
    worst = 0.0
    for name, metric in METRICS.items():
        cells = []
        for f in filters.values():
            if any(k not in metric.keys for k in f.active()):
                cells.append(f"{'n/a':>14}")
                continue
            query = service.Query((name,), "week", start, end, None, f, use_aggregates=not args.raw)
            samples = []
            for i in range(args.repeats + 1):
                with new_session() as db:
                    t0 = time.perf_counter()
                    service.run(db, query)
                    ms = (time.perf_counter() - t0) * 1000
                if i:
                    samples.append(ms)
            worst = max(worst, p95(samples))
            cells.append(f"{p95(samples):>14.1f}")
        print(f"{name:<26}" + "".join(cells))
    print(f"worst query p95 {worst:.1f} ms (target < {QUERY_LIMIT_MS:.0f} ms)")

    page: list[float] = []
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, token)
        url = f"/insights?from={start}&to={end}&period=week"
        for i in range(max(3, args.repeats // 2) + 1):
            t0 = time.perf_counter()
            r = client.get(url)
            ms = (time.perf_counter() - t0) * 1000
            if r.status_code != 200:
                raise SystemExit(f"dashboard answered {r.status_code}: {r.text[:300]}")
            if i:
                page.append(ms)
    print(
        f"whole dashboard page: median {statistics.median(page):.0f} ms, p95 {p95(page):.0f} ms "
        f"(target < {PAGE_LIMIT_MS:.0f} ms)"
    )
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
