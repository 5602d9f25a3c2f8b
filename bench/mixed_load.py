"""Mixed load: 32 agents work the desk for 10 minutes while dispatchers plan days on real workers.

    .venv/bin/python bench/mixed_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_bench

It runs the production shape on an already seeded PostgreSQL database (the demo seed, any size;
`fieldline seed --customers 100000` for the figures in the note): `fieldline serve --workers 2`,
one Celery worker (all queues, `--worker-concurrency`) and beat on a Redis db of their own.
Nothing is re-created; the tickets it opens carry a run prefix in their subject.

- **Agents** (`--agents`, default 32) loop like a person on the hotline, with an exponential
  think time (`--think-s`, mean) between steps: find the caller (phone, name, e-mail or serial
  drawn from the data), open the 360° view, then in half the calls open a ticket (with an
  Idempotency-Key; a 503 or a dropped connection is retried with the same key), read the
  knowledge-base suggestions and log the call; otherwise look at a queue view or search the
  knowledge base.
- **Dispatchers** (`--dispatchers`, default 2) request a day plan (`POST /plans`, `--plan-limit-s`
  solve time) for the next region-day every `--plan-every-s` seconds and follow it to its end.
- **Engineers** (4) reload their route every 30 s.

It prints, per endpoint, requests, throughput, p50/p95/p99/max and errors by status; the plan
runs' durations; and the audit of bench/faults.py: every acknowledged ticket exists once (0
lost, 0 duplicated), no 500, every plan run finished or failed with a reason.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.plan_common import ROOT, Processes, configure, machine, pct  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_bench"
FINISHED = ("published", "unchanged", "conflict", "superseded", "failed", "proposed")


@dataclass
class Stats:
    """Every request: (endpoint label, status, seconds). Status 0 is a transport error."""

    rows: list[tuple[str, int, float]] = field(default_factory=list)
    acked: dict[str, int] = field(default_factory=dict)  # ticket key -> id
    keys: list[str] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, status: int, seconds: float) -> None:
        with self.lock:
            self.rows.append((label, status, seconds))


class Client:
    """One person's keep-alive connection; 503s are retried after Retry-After like a browser
    would, and each attempt is recorded (the 503 too)."""

    def __init__(self, base: str, token: str, stats: Stats, stop_at: float) -> None:
        import httpx

        self.http = httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"})
        self.stats, self.stop_at = stats, stop_at

    def call(self, label: str, method: str, url: str, **kw: Any) -> Any:
        import httpx

        for _ in range(5):
            sent = time.perf_counter()
            try:
                r = self.http.request(method, url, **kw)
                status = r.status_code
            except httpx.HTTPError:
                r, status = None, 0
            self.stats.add(label, status, time.perf_counter() - sent)
            if status not in (0, 503) or time.monotonic() > self.stop_at + 60:
                return r
            time.sleep(float(r.headers.get("Retry-After", "1")) if r is not None else 1.0)
        return r


@dataclass
class Material:
    queries: list[str]
    accounts: list[tuple[int, int | None, int | None]]  # account, first contact, an asset
    kb_queries: list[str]
    regions: list[int]


def material(dsn: str, rng: random.Random) -> Material:
    import psycopg

    with psycopg.connect(dsn) as conn:
        n = conn.execute("SELECT count(*) FROM account").fetchone()[0]  # type: ignore[index]
        stride = max(1, n // 2000)
        rows = conn.execute(
            "SELECT a.id, a.name, "
            "(SELECT c.id FROM contact c WHERE c.account_id = a.id ORDER BY c.id LIMIT 1), "
            "(SELECT s.id FROM asset s WHERE s.account_id = a.id ORDER BY s.id LIMIT 1), "
            "(SELECT s.serial FROM asset s WHERE s.account_id = a.id ORDER BY s.id LIMIT 1), "
            "(SELECT c.email FROM contact c WHERE c.account_id = a.id AND c.email IS NOT NULL LIMIT 1) "
            "FROM account a WHERE a.id %% %s = 0 LIMIT 2000",
            (stride,),
        ).fetchall()
        regions = [r for (r,) in conn.execute("SELECT id FROM region ORDER BY id")]
        kb = [t for (t,) in conn.execute("SELECT title FROM kb_article LIMIT 200")]
    queries: list[str] = []
    for _, name, _, _, serial, email in rows:
        queries.append(name[: rng.randint(4, 10)].strip())
        if serial:
            queries.append(serial)
        if email:
            queries.append(email)
    words = [w for t in kb for w in t.split() if len(w) > 4] or ["Störung", "Fehler", "leak"]
    return Material(
        queries=queries,
        accounts=[(a, c, s) for a, _, c, s, _, _ in rows],
        kb_queries=[" ".join(rng.sample(words, min(2, len(words)))) for _ in range(200)],
        regions=regions,
    )


def agent(idx: int, client: Client, m: Material, stats: Stats, args: argparse.Namespace, prefix: str) -> None:
    rng = random.Random(1000 + idx)
    views = ("mine", "team", "unassigned", "breaching_soon")

    def think() -> None:
        time.sleep(min(rng.expovariate(1 / args.think_s), 5 * args.think_s))

    n = 0
    while time.monotonic() < client.stop_at:
        client.call("GET /customers?q", "GET", "/api/v1/customers", params={"q": rng.choice(m.queries)})
        think()
        account, contact, asset = rng.choice(m.accounts)
        client.call("GET /customers/{id}/360", "GET", f"/api/v1/customers/{account}/360")
        think()
        if rng.random() < 0.5:
            key = f"{prefix}-{idx:02d}-{n:05d}"
            n += 1
            with stats.lock:
                stats.keys.append(key)
            body = {
                "customer_id": account,
                "contact_id": contact,
                "asset_id": asset,
                "subject": key,
                "description": "Anlage zeigt Fehler E42, Druck fällt nach dem Start ab.",
                "priority": rng.choice(("P2", "P3", "P3", "P4")),
                "channel": "phone",
            }
            r = client.call(
                "POST /tickets", "POST", "/api/v1/tickets", json=body, headers={"Idempotency-Key": key}
            )
            if r is not None and r.status_code in (200, 201):
                ticket_id = r.json()["id"]
                with stats.lock:
                    stats.acked[key] = ticket_id
                think()
                client.call(
                    "GET /tickets/{id}/suggestions", "GET", f"/api/v1/tickets/{ticket_id}/suggestions"
                )
                think()
                client.call(
                    "POST /tickets/{id}/calls",
                    "POST",
                    f"/api/v1/tickets/{ticket_id}/calls",
                    json={"direction": "inbound", "summary": "Kunde rief an.", "duration_min": 4},
                )
        elif rng.random() < 0.6:
            client.call("GET /tickets?view", "GET", "/api/v1/tickets", params={"view": rng.choice(views)})
        else:
            client.call("GET /kb/search", "GET", "/api/v1/kb/search", params={"q": rng.choice(m.kb_queries)})
        think()


def dispatcher(idx: int, client: Client, m: Material, stats: Stats, args: argparse.Namespace) -> None:
    day = date.today() + timedelta(days=1)
    slots = [(r, day + timedelta(days=d)) for d in range(0, 14) for r in m.regions]
    slots = [(r, d) for r, d in slots if d.weekday() < 5][idx :: args.dispatchers]
    while time.monotonic() < client.stop_at and slots:
        region, when = slots.pop(0)
        body = {"region_id": region, "date": when.isoformat(), "time_limit_s": args.plan_limit_s}
        next_plan_at = time.monotonic() + args.plan_every_s
        r = client.call(
            "POST /plans", "POST", "/api/v1/plans", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if r is not None and r.status_code == 202:
            run_id = int(r.json()["id"])
            with stats.lock:
                stats.runs.append(run_id)
            while time.monotonic() < next_plan_at:  # follow the run like the board's progress bar
                time.sleep(3)
                got = client.call("GET /plans/{id}", "GET", f"/api/v1/plans/{run_id}")
                if got is not None and got.status_code == 200 and got.json()["status"] in FINISHED:
                    break
        time.sleep(max(0.0, next_plan_at - time.monotonic()))


def engineer(client: Client) -> None:
    while time.monotonic() < client.stop_at:
        client.call("GET /me/route", "GET", "/api/v1/me/route")
        time.sleep(max(0.0, min(30.0, client.stop_at - time.monotonic())))  # a short run ends on time


def tokens(emails_by_role: dict[str, int]) -> dict[str, list[str]]:
    from sqlalchemy import select

    from app.models import User
    from app.platform.auth import issue_token
    from app.platform.db import unit_of_work

    out: dict[str, list[str]] = {}
    with unit_of_work() as s:
        for role, n in emails_by_role.items():
            users = s.scalars(
                select(User).where(User.role == role, User.is_active.is_(True)).order_by(User.id)
            ).all()
            if not users:
                raise SystemExit(f"no active {role} user in the database (seed it with DEMO_MODE=1)")
            out[role] = [issue_token(users[i % len(users)]) for i in range(n)]
    return out


def audit(stats: Stats, prefix: str, timeout_s: float) -> tuple[dict[str, Any], list[str]]:
    from sqlalchemy import select

    from app.models import PlanRun, Ticket
    from app.platform.db import unit_of_work

    failures = []
    with unit_of_work() as s:
        rows = s.execute(select(Ticket.subject).where(Ticket.subject.like(f"{prefix}-%"))).scalars().all()
    per_key = collections.Counter(rows)
    lost = [k for k in stats.acked if per_key[k] == 0]
    dup = [k for k, c in per_key.items() if c > 1]
    deadline = time.monotonic() + timeout_s
    while True:
        with unit_of_work() as s:
            runs = s.execute(
                select(PlanRun.id, PlanRun.status, PlanRun.error).where(PlanRun.id.in_(stats.runs))
            ).all()
        if all(st in FINISHED for _, st, _ in runs) or time.monotonic() > deadline:
            break
        time.sleep(2)
    statuses = collections.Counter(st for _, st, _ in stats.rows)
    figures = {
        "ticket keys": len(stats.keys),
        "acknowledged": len(stats.acked),
        "rows": len(rows),
        "lost": len(lost),
        "duplicated": len(dup),
        "http_500": statuses.get(500, 0),
        "plan runs": dict(collections.Counter(st for _, st, _ in runs)),
    }
    if lost:
        failures.append(f"lost tickets {lost[:5]}")
    if dup:
        failures.append(f"duplicated tickets {dup[:5]}")
    if statuses.get(500):
        failures.append(f"{statuses[500]} answers were 500")
    unfinished = [i for i, st, _ in runs if st not in FINISHED]
    if unfinished:
        failures.append(f"plan runs left unfinished: {unfinished}")
    no_reason = [i for i, st, err in runs if st == "failed" and not err]
    if no_reason:
        failures.append(f"plan runs failed without a reason: {no_reason}")
    return figures, failures


def report(stats: Stats, wall_s: float) -> list[str]:
    by: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    for label, status, s in stats.rows:
        by[label].append((status, s))
    lines = [
        f"  {'endpoint':32s} {'n':>6s} {'req/s':>6s} {'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s} "
        f"{'max ms':>7s}  errors"
    ]
    for label in sorted(by):
        xs = by[label]
        ok = [1000 * s for st, s in xs if 200 <= st < 300]
        errs = collections.Counter(st for st, _ in xs if not 200 <= st < 300)
        cells = [pct(ok, q) if ok else float("nan") for q in (0.5, 0.95, 0.99)]
        lines.append(
            f"  {label:32s} {len(xs):6d} {len(xs) / wall_s:6.1f} "
            + " ".join(f"{c:7.1f}" for c in cells)
            + f" {max(ok, default=float('nan')):7.1f}  {dict(errs) or '-'}"
        )
    total = len(stats.rows)
    lines.append(f"  {'all':32s} {total:6d} {total / wall_s:6.1f}")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--broker-url", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--port", type=int, default=8766)
    ap.add_argument("--web-workers", type=int, default=2)
    ap.add_argument("--worker-concurrency", type=int, default=1)
    ap.add_argument("--agents", type=int, default=32)
    ap.add_argument("--dispatchers", type=int, default=2)
    ap.add_argument("--duration-s", type=float, default=600)
    ap.add_argument("--think-s", type=float, default=2.0, help="mean think time between an agent's steps")
    ap.add_argument("--plan-every-s", type=float, default=60)
    ap.add_argument("--plan-limit-s", type=float, default=20)
    ap.add_argument("--save", help="also write the report to this file")
    args = ap.parse_args()

    configure(args.database_url, args.broker_url, NOTIFY_SENDER="log")
    import redis

    redis.Redis.from_url(args.broker_url).flushdb()
    out: list[str] = [f"bench/mixed_load.py {' '.join(sys.argv[1:])}  ({time.strftime('%Y-%m-%d %H:%M %Z')})"]

    def say(line: str) -> None:
        print(line, flush=True)
        out.append(line)

    say(f"machine: {machine()}")
    rng = random.Random(7)
    m = material(args.database_url.replace("postgresql+psycopg://", "postgresql://"), rng)
    say(f"material: {len(m.queries)} caller queries, {len(m.accounts)} accounts, {len(m.regions)} regions")
    toks = tokens({"agent": args.agents, "dispatcher": args.dispatchers, "engineer": 4})
    procs = Processes()
    prefix = f"mixed-{uuid.uuid4().hex[:6]}"
    stats = Stats()
    failures: list[str] = []
    try:
        serve = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(args.port)]
        procs.start("mixed-api", serve + ["--workers", str(args.web_workers)], None)
        base = f"http://127.0.0.1:{args.port}"
        _wait_health(base)
        procs.worker("mixed-worker", "default,plans,urgent", args.worker_concurrency)
        beat_file = ROOT / "var" / "bench" / "mixed-beat"
        procs.start(
            "mixed-beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "app.worker",
                "beat",
                "-s",
                str(beat_file),
                "--loglevel",
                "INFO",
            ],
            "beat: Starting",
        )
        say(
            f"running: fieldline serve --workers {args.web_workers}, 1 Celery worker "
            f"(concurrency {args.worker_concurrency}), beat; {args.agents} agents "
            f"(think {args.think_s:g} s), {args.dispatchers} dispatchers (a plan every "
            f"{args.plan_every_s:g} s, {args.plan_limit_s:g} s solve), "
            f"4 engineers; {args.duration_s:g} s"
        )
        t0 = time.monotonic()
        stop_at = t0 + args.duration_s
        threads = [
            threading.Thread(
                target=agent, args=(i, Client(base, toks["agent"][i], stats, stop_at), m, stats, args, prefix)
            )
            for i in range(args.agents)
        ]
        threads += [
            threading.Thread(
                target=dispatcher,
                args=(i, Client(base, toks["dispatcher"][i], stats, stop_at), m, stats, args),
            )
            for i in range(args.dispatchers)
        ]
        threads += [
            threading.Thread(target=engineer, args=(Client(base, t, stats, stop_at),))
            for t in toks["engineer"]
        ]
        for t in threads:
            t.daemon = True
            t.start()
        for t in threads:
            t.join(timeout=max(1.0, stop_at + 120 - time.monotonic()))
        wall = time.monotonic() - t0
        say(f"\nper endpoint ({wall:.0f} s wall; latency of 2xx answers; errors by status, 0 = transport)")
        for line in report(stats, wall):
            say(line)
        figures, failures = audit(stats, prefix, timeout_s=args.plan_limit_s * 4 + 60)
        say(f"\naudit: {figures}")
        load = os.getloadavg()
        say(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    finally:
        procs.stop()
        if args.save:
            Path(args.save).write_text("\n".join(out) + "\n")
    for f in failures:
        say(f"AUDIT FAILED: {f}")
    say("AUDIT OK" if not failures else "AUDIT FAILED")
    return 1 if failures else 0


def _wait_health(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("the API did not answer /api/v1/health within 90 s")


if __name__ == "__main__":
    sys.exit(main())
