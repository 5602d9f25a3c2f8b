"""KPI dashboard speed on a seeded database (issue 12): the first build of the per-day aggregates,
one periodic refresh, each dashboard query's p95 over a 90-day window with no filter and with
each one filter (targets < 300 ms), the whole manager dashboard page (target < 1 s) and the
drill-down lists (first page and the next one).

Seeds the database when it has no customers (and prints how long that took), unless
--skip-seed, which refuses an empty database. On an already seeded database it changes no seed
data: it may (re)build kpi_day / kpi_refresh, and only when the database has no manager or admin
it adds a temporary manager for the page and removes it at the end. Runs in-process (service
calls, the page through FastAPI's TestClient), so the times are the server's own work without
network. Every figure is printed with the machine's load (1-minute average): on a shared
machine they are smoke figures only.

    PYTHONPATH=$PWD .venv/bin/python bench/kpis.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_bench --skip-seed --rebuild
    PYTHONPATH=$PWD .venv/bin/python bench/kpis.py --database-url ... --customers 100000  # seeds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_kpis"
QUERY_LIMIT_MS = 300.0
PAGE_LIMIT_MS = 1000.0


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def timed(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Milliseconds of `repeats` runs after one warm-up run."""
    samples = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - t0) * 1000
        if i:
            samples.append(ms)
    return samples


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--customers", type=int, default=100_000, help="seed this many if empty")
    ap.add_argument(
        "--skip-seed", "--reuse", dest="skip_seed", action="store_true", help="never seed: use the data there"
    )
    ap.add_argument(
        "--rebuild", action="store_true", help="drop kpi_day and time its first full build even if built"
    )
    ap.add_argument("--repeats", type=int, default=10, help="timed runs per query (after one warm-up)")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--raw", action="store_true", help="time the raw path (no kpi_day) for comparison")
    ap.add_argument("--no-drill", action="store_true", help="skip the drill-down timings")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.update(
        DATABASE_URL=args.database_url, DEMO_MODE="0", SCHEDULER_ENABLED="0", TASK_ALWAYS_EAGER="1"
    )
    os.environ.setdefault("SECRET_KEY", "bench-secret")
    import logging

    logging.disable(logging.INFO)  # no access log line per timed request

    from fastapi.testclient import TestClient
    from sqlalchemy import delete, func, select, text

    from app.insights import aggregates, service
    from app.insights import drill as drilling
    from app.insights.metrics import METRICS
    from app.insights.records import Filters
    from app.main import app
    from app.models import (
        Account,
        Engineer,
        KpiDay,
        KpiRefresh,
        ProductModel,
        Region,
        SurveyAnswer,
        Ticket,
        User,
        WorkOrder,
    )
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
        if args.skip_seed:
            raise SystemExit("--skip-seed: the database has no customers; seed it first (fieldline seed)")
        started = time.perf_counter()
        with unit_of_work() as db:
            seed(db, customers=args.customers, seed=42, demo_users=False)
        print(f"seeded {args.customers:,} customers in {time.perf_counter() - started:.1f} s (load {load()})")
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
    with new_session() as db:
        counts = {
            "accounts": db.scalar(select(func.count()).select_from(Account)),
            "tickets": db.scalar(select(func.count()).select_from(Ticket)),
            "work orders": db.scalar(select(func.count()).select_from(WorkOrder)),
            "answers": db.scalar(select(func.count()).select_from(SurveyAnswer)),
        }
        region = db.scalar(select(Region.code).order_by(Region.id))
        # the busiest engineer and product model: the slowest single filters
        engineer = db.scalar(
            select(WorkOrder.engineer_id)
            .where(WorkOrder.engineer_id.is_not(None))
            .group_by(WorkOrder.engineer_id)
            .order_by(func.count().desc())
            .limit(1)
        ) or db.scalar(select(Engineer.id).order_by(Engineer.id))
        model = db.scalar(select(ProductModel.code).order_by(ProductModel.id))
    print(", ".join(f"{k} {v:,}" for k, v in counts.items()), f"· {engine.dialect.name} · {platform.node()}")

    # ------------------------------------------------------------------------- aggregates
    with new_session() as db:
        built = db.scalar(select(func.count()).select_from(KpiRefresh))
    if args.rebuild or not built:
        with unit_of_work() as db:
            db.execute(delete(KpiRefresh))
            db.execute(delete(KpiDay))
        started, before = time.perf_counter(), load()
        with unit_of_work() as db:
            rows = aggregates.refresh(db)
        print(
            f"first build of kpi_day (400 days, with the renewal scores): {rows:,} rows in "
            f"{time.perf_counter() - started:.1f} s (load {before} → {load()})"
        )
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE kpi_day"))
    else:
        print("kpi_day was built already (--rebuild times its first build)")
    started, before = time.perf_counter(), load()
    with unit_of_work() as db:
        rows = aggregates.refresh(db)
    print(
        f"one periodic refresh (touched days + the last 2, or 31 for FTF and response rate): {rows:,} rows"
        f" in {time.perf_counter() - started:.1f} s (load {before} → {load()})"
    )

    # ------------------------------------------------------------------------- queries
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
        f"\n{args.days}-day window {start} … {end}, weekly series with previous periods, {source};"
        f" p95 of {args.repeats} runs (ms), load at the end of each row"
    )
    print(f"{'metric':<26}" + "".join(f"{k:>14}" for k in filters) + f"{'load':>7}")
    worst: tuple[float, str] = (0.0, "")

    def run(query: service.Query) -> Callable[[], Any]:
        def call() -> Any:
            with new_session() as db:
                return service.run(db, query)

        return call

    rows_out: list[tuple[str, dict[str, Filters]]] = [(n, filters) for n in METRICS]
    for name, _ in [*rows_out, ("(all, one call)", filters)]:
        cells = []
        for fname, f in filters.items():
            names = tuple(METRICS) if name not in METRICS else (name,)
            names = tuple(m for m in names if set(f.active()) <= set(METRICS[m].keys))
            if not names:
                cells.append(f"{'n/a':>14}")
                continue
            query = service.Query(names, "week", start, end, None, f, use_aggregates=not args.raw)
            ms = p95(timed(run(query), args.repeats))
            if name in METRICS:
                worst = max(worst, (ms, f"{name} / {fname}"))
            cells.append(f"{ms:>14.1f}")
        print(f"{name:<26}" + "".join(cells) + f"{load():>7}")
    print(f"worst single query p95 {worst[0]:.1f} ms ({worst[1]}; target < {QUERY_LIMIT_MS:.0f} ms)")

    # ------------------------------------------------------------------------- the page
    with new_session() as db:
        manager = db.scalar(
            select(User)
            .where(User.role.in_(("manager", "admin")), User.is_active.is_(True))
            .order_by(User.id)
        )
        temporary = manager is None
        if manager is None:
            manager = User(email="kpi-bench@bench.example", name="KPI bench", role="manager",
                           password_hash=hash_password("kpi-bench-unused"))  # fmt: skip
            db.add(manager)
            db.commit()
        token, manager_id = issue_token(manager), manager.id
    try:
        with TestClient(app) as client:
            client.cookies.set(SESSION_COOKIE, token)
            for fname, f in filters.items():
                qs = "".join(f"&{k}={v}" for k, v in f.active().items())
                url = f"/insights?from={start}&to={end}&period=week{qs}"

                def get(url: str = url) -> None:
                    r = client.get(url)
                    if r.status_code != 200:
                        raise SystemExit(f"{url} answered {r.status_code}: {r.text[:300]}")

                page = timed(get, max(3, args.repeats // 2))
                print(
                    f"dashboard page, filter {fname:<14} median {statistics.median(page):6.0f} ms,"
                    f" p95 {p95(page):6.0f} ms (target < {PAGE_LIMIT_MS:.0f} ms) load {load()}"
                )
    finally:
        if temporary:
            with unit_of_work() as db:
                db.execute(delete(User).where(User.id == manager_id))

    # ------------------------------------------------------------------------- drill-down
    if args.no_drill:
        return
    print(
        f"\ndrill-down, {args.days}-day window, no filter: first page of 50 and the next"
        " (ms; p95, in memory: 1 run)"
    )
    for name in METRICS:
        query = service.Query((name,), "week", start, end)
        with new_session() as db:
            first = drilling.drill(db, query, group_value=None, offset=0, limit=50)
        cursor = first.get("next_after")

        def page_one(query: service.Query = query) -> None:
            with new_session() as db:
                drilling.drill(db, query, group_value=None, offset=0, limit=50)

        def page_two(query: service.Query = query, cursor: str | None = cursor) -> None:
            with new_session() as db:
                drilling.drill(db, query, group_value=None, offset=50, limit=50, after=cursor)

        # A list paged in memory loads the whole window per page (seconds): timed once.
        runs = max(3, args.repeats // 2) if first.get("keyset") else 1
        one = p95(timed(page_one, runs))
        two = p95(timed(page_two, runs)) if first["n"] > 50 else None
        how = "keyset" if first.get("keyset") else "rows in memory"
        print(
            f"{name:<26} n {first['n']:>8,}  first {one:8.1f}  next "
            + (f"{two:8.1f}" if two is not None else f"{'–':>8}")
            + f"  ({how}) load {load()}"
        )


if __name__ == "__main__":
    main()
