"""Open-loop load test of the desk API against a seeded database (see bench/README.md).

Requests are sent at fixed arrival times whatever the responses do, and each latency is
measured from the request's *scheduled* send time, so a stalled server shows up as latency
instead of as fewer requests (no coordinated omission). Mix: 60 % caller search
(`GET /api/v1/customers?q=`), 30 % customer 360° view, 10 % `POST /api/v1/tickets`.

    .venv/bin/python bench/api_load.py                      # starts uvicorn (2 workers) on fl_bench
    .venv/bin/python bench/api_load.py --base-url http://127.0.0.1:8000 --no-steps
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from raw_http import ConnectionLost, RawClient

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_bench"
KINDS = ("search", "customer_360", "create_ticket")
MIX = (0.6, 0.3, 0.1)
P95_LIMIT_MS = 100.0


@dataclass
class Material:
    """Realistic inputs drawn from the seeded data."""

    queries: list[tuple[str, str]] = field(default_factory=list)  # (what, q)
    account_ids: list[int] = field(default_factory=list)
    tickets: list[tuple[int, int | None, int]] = field(default_factory=list)  # account, contact, asset


def other_format(stored: str, digits: str, rng: random.Random) -> str:
    """The same number as a caller would type it differently from how the CRM stored it."""
    area, rest = (digits[:2], digits[2:]) if digits.startswith("89") else (digits[:3], digits[3:])
    options = [
        f"+49 {area} {rest}",
        f"0{area}/{rest}",
        f"0049{area}{rest}",
        f"0{area} {rest[:3]} {rest[3:]}",
        f"+49 (0){area} {rest}",
        f"0{area}{rest}",
    ]
    return rng.choice([o for o in options if o != stored] or options)


def load_material(dsn: str, rng: random.Random, n: int = 3000) -> tuple[Material, dict[str, int]]:
    m = Material()
    with psycopg.connect(dsn) as conn:
        counts = {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # type: ignore[index]
            for t in ("account", "contact", "asset", "ticket", "work_order")
        }
        stride = max(1, counts["contact"] // n)
        for phone, digits, mobile, mdigits, email in conn.execute(
            "SELECT phone, phone_digits, mobile, mobile_digits, email FROM contact "
            "WHERE id %% %s = 0 LIMIT %s",
            (stride, n),
        ):
            if digits and rng.random() < 0.5:
                m.queries.append(("phone", other_format(phone, digits, rng)))
            elif mdigits:
                m.queries.append(("phone", other_format(mobile, mdigits, rng)))
            if email:
                m.queries.append(("email", email))
        stride = max(1, counts["account"] // n)
        accounts = conn.execute("SELECT id, name FROM account WHERE id %% %s = 0 LIMIT %s", (stride, n))
        for aid, name in accounts:
            m.account_ids.append(aid)
            m.queries.append(("name", name[: rng.randint(4, 10)].strip()))
        stride = max(1, counts["asset"] // n)
        for aid, account_id, serial, contact_id in conn.execute(
            "SELECT a.id, a.account_id, a.serial, (SELECT c.id FROM contact c "
            "WHERE c.account_id = a.account_id ORDER BY c.id LIMIT 1) "
            "FROM asset a WHERE a.id %% %s = 0 LIMIT %s",
            (stride, n),
        ):
            m.queries.append(("serial", serial))
            m.tickets.append((account_id, contact_id, aid))
        counts["postgres_version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    # Equal shares of phone, name, e-mail and serial queries.
    by_kind: dict[str, list[str]] = defaultdict(list)
    for what, q in m.queries:
        by_kind[what].append(q)
    k = min(len(v) for v in by_kind.values())
    m.queries = [(what, q) for what, qs in sorted(by_kind.items()) for q in qs[:k]]
    rng.shuffle(m.queries)
    return m, counts


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
        mem = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        mem = "?"
    load = os.getloadavg()
    return (
        f"cpu: {cpu}, {os.cpu_count()} logical cores; RAM {mem}; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; python {platform.python_version()}"
    )


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


@dataclass
class Result:
    rate: float
    duration: float
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # 503 answers (shed load), also counted in errors: their latency is how fast "busy" came back
    refused: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)
    sent: int = 0
    wall: float = 0.0
    # How late each request's task started against its schedule: the generator's own backlog.
    # Latency counts from the schedule, so a generator that falls behind inflates every figure;
    # this shows whether it kept up (it shares the 2 cores with the server and PostgreSQL).
    send_lag: list[float] = field(default_factory=list)

    def p95s(self) -> dict[str, float]:
        return {k: pct(v, 95) for k, v in self.latencies.items()}

    def report(self, title: str) -> str:
        lines = [
            f"{title}: target {self.rate:.0f} req/s for {self.duration:.0f} s, sent {self.sent}, "
            f"completed {sum(len(v) for v in self.latencies.values())} in {self.wall:.1f} s "
            f"(achieved {sum(len(v) for v in self.latencies.values()) / self.wall:.1f} req/s)",
            f"  {'kind':15s} {'n':>6s} {'errors':>7s} "
            + " ".join(f"{h:>8s}" for h in ("p50 ms", "p95 ms", "p99 ms", "max ms")),
        ]
        everything: list[float] = []
        for kind in (*KINDS,):
            v = self.latencies.get(kind, [])
            everything += v
            lines.append(
                f"  {kind:15s} {len(v):6d} {self.errors.get(kind, 0):7d} {pct(v, 50):8.1f} "
                f"{pct(v, 95):8.1f} {pct(v, 99):8.1f} {max(v, default=float('nan')):8.1f}"
            )
        lines.append(
            f"  {'overall':15s} {len(everything):6d} {sum(self.errors.values()):7d} "
            f"{pct(everything, 50):8.1f} {pct(everything, 95):8.1f} {pct(everything, 99):8.1f} "
            f"{max(everything, default=float('nan')):8.1f}"
        )
        lines.append(
            f"  generator lag (task start after schedule): p50 {pct(self.send_lag, 50):.1f} ms, "
            f"p95 {pct(self.send_lag, 95):.1f} ms, max {max(self.send_lag, default=float('nan')):.1f} ms"
        )
        lines += [f"  error: {e}" for e in self.error_samples[:5]]
        return "\n".join(lines)


async def run(
    client: RawClient, material: Material, rate: float, duration: float, rng: random.Random
) -> Result:
    """Open loop: request i is due at start + i / rate; latency counts from that instant."""
    res = Result(rate, duration)
    total = int(rate * duration)
    tasks: list[asyncio.Task[None]] = []
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    now = time.perf_counter
    start = now() + 0.05

    async def one(kind: str, due: float, request: tuple[str, str, Any]) -> None:
        method, url, body = request
        res.send_lag.append((now() - due) * 1000)
        try:
            headers = {"Idempotency-Key": uuid.uuid4().hex} if method == "POST" else None
            r = await client.request(method, url, json=body, headers=headers)
            ok, refused = r.status_code < 300, r.status_code == 503
            if not ok and len(res.error_samples) < 5:
                res.error_samples.append(f"{kind} {r.status_code} {r.text[:200]}")
        except (ConnectionLost, OSError) as exc:
            ok = refused = False
            if len(res.error_samples) < 5:
                res.error_samples.append(f"{kind} {type(exc).__name__}: {exc}")
        done = now()
        if ok:
            res.latencies[kind].append((done - due) * 1000)
        else:
            res.errors[kind] += 1
            if refused:
                res.refused[kind].append((done - due) * 1000)

    for i in range(total):
        due = start + i / rate
        kind = rng.choices(KINDS, MIX)[0]
        request: tuple[str, str, Any]
        if kind == "search":
            request = (
                "GET",
                "/api/v1/customers?" + str(httpx.QueryParams({"q": rng.choice(material.queries)[1]})),
                None,
            )
        elif kind == "customer_360":
            request = ("GET", f"/api/v1/customers/{rng.choice(material.account_ids)}/360", None)
        else:
            account_id, contact_id, asset_id = rng.choice(material.tickets)
            request = (
                "POST",
                "/api/v1/tickets",
                {
                    "customer_id": account_id,
                    "contact_id": contact_id,
                    "asset_id": asset_id,
                    "subject": "Lastttest: Anlage meldet Störung",
                    "description": "Automatischer Lasttest.",
                    "priority": rng.choice(("P2", "P3", "P3", "P4")),
                    "channel": "phone",
                },
            )
        delay = due - now()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(kind, due, request)))
        res.sent += 1
    await asyncio.gather(*tasks)
    res.wall = now() - start
    return res


def start_server(database_url: str, port: int, workers: int, mode: str) -> subprocess.Popen[bytes]:
    """The shipped command, `fieldline serve --workers N` (its TCP_NODELAY socket:
    app/platform/serve.py), or `--server uvicorn-cli`, the plain `uvicorn --workers N`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEMO_MODE": "1",
        "SCHEDULER_ENABLED": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-secret"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("CELERY_BROKER_URL", None)  # tasks on each process's own thread: no broker to fill
    if mode == "uvicorn-cli":
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
    else:
        cmd = [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("the server did not answer /api/v1/health within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


async def sustainable_rate(
    client: RawClient,
    material: Material,
    rng: random.Random,
    args: argparse.Namespace,
    say: Callable[[str], None],
) -> float | None:
    """The step search: the highest of `args.steps` at which every kind's p95 stays under
    P95_LIMIT_MS with at most 1 % errors (a failing step is re-run `args.retries` times)."""
    best = None
    for rate in args.steps:
        held = False
        for attempt in range(1 + args.retries):  # a shared machine has bursts: retry a failure
            res = await run(client, material, rate, args.step_duration, rng)
            say(res.report("step" if attempt == 0 else "step (retry)"))
            p95 = res.p95s()
            error_share = sum(res.errors.values()) / max(1, res.sent)
            worst = max(p95.values(), default=float("nan"))
            held = worst < P95_LIMIT_MS and error_share <= 0.01
            verdict = "holds every p95 under" if held else "fails"
            say(
                f"  -> {rate:.0f} req/s {verdict} {P95_LIMIT_MS:.0f} ms "
                f"(worst p95 {worst:.1f} ms, errors {error_share:.1%})"
            )
            if held:
                break
        if not held:
            break
        best = rate
    say(
        f"highest rate with every p95 < {P95_LIMIT_MS:.0f} ms: "
        + (f"{best:.0f} req/s" if best else f"none (not even {args.steps[0]:.0f} req/s)")
    )
    return best


def sayer(out: list[str]) -> Callable[[str], None]:
    def say(text: str) -> None:
        print(text, flush=True)
        out.append(text)

    return say


@asynccontextmanager
async def session(
    args: argparse.Namespace, say: Callable[[str], None]
) -> AsyncIterator[tuple[RawClient, Material, random.Random]]:
    """Material from the seeded data, a signed-in client, a warm-up; prints what it measured on."""
    rng = random.Random(args.seed)
    dsn = args.database_url.replace("postgresql+psycopg://", "postgresql://")
    material, counts = load_material(dsn, rng)
    say(f"machine: {machine()}; PostgreSQL {counts.pop('postgres_version')}")
    say("data: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    say(
        f"material: {len(material.queries)} search queries (phone in another format, name prefix, e-mail, "
        f"serial), {len(material.account_ids)} accounts, {len(material.tickets)} ticket targets"
    )
    async with httpx.AsyncClient(base_url=args.base_url, timeout=30.0) as login:
        r = await login.post("/api/v1/auth/token", data={"username": args.user, "password": args.password})
        r.raise_for_status()
    client = RawClient(args.base_url, max_connections=args.connections)
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    try:
        await run(client, material, 20, 5, rng)  # warm-up (connections, caches): not reported
        yield client, material, rng
    finally:
        await client.aclose()
    load = os.getloadavg()
    say(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


async def bench(args: argparse.Namespace, out: list[str]) -> None:
    say = sayer(out)
    async with session(args, say) as (client, material, rng):
        main = await run(client, material, args.rate, args.duration, rng)
        say(main.report("main run"))
        if not args.no_steps:
            await sustainable_rate(client, material, rng, args, say)


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The options api_load.py and overload.py share."""
    ap = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    ap.add_argument("--base-url", help="a running server; default: start uvicorn on --port")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--server",
        choices=("nodelay", "uvicorn-cli"),
        default="nodelay",
        help="how the bench starts the server: the shipped `fieldline serve --workers N` "
        "(default: TCP_NODELAY socket), or the plain `uvicorn --workers N` command (uvicorn#3149)",
    )
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument(
        "--steps",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 400.0, 500.0, 600.0, 800.0],
    )
    ap.add_argument("--step-duration", type=float, default=20.0)
    ap.add_argument("--no-steps", action="store_true")
    ap.add_argument("--retries", type=int, default=1, help="re-runs of a failing step before it counts")
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--user", default="agent@example.com")
    ap.add_argument("--password", default="demo")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", help="also write the report to this file")
    return ap


def use_uvloop() -> None:
    """uvloop when installed (the server uses it too): a cheaper generator leaves more CPU to
    the server it measures."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(
    bench_fn: Callable[[argparse.Namespace, list[str]], Any] = bench,
    description: str | None = None,
    more_options: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    ap = arguments(description or __doc__)
    if more_options:
        more_options(ap)
    args = ap.parse_args()
    script = Path(sys.argv[0]).name
    out: list[str] = [f"bench/{script} {' '.join(sys.argv[1:])}  ({time.strftime('%Y-%m-%d %H:%M %Z')})"]
    proc = None
    if not args.base_url:
        proc = start_server(args.database_url, args.port, args.workers, args.server)
        args.base_url = f"http://127.0.0.1:{args.port}"
        how = "uvicorn CLI" if args.server == "uvicorn-cli" else "fieldline serve, TCP_NODELAY socket"
        out.append(f"server: {args.workers} workers ({how}) on {args.base_url}, started by the bench")
    try:
        use_uvloop()
        asyncio.run(bench_fn(args, out))
    finally:
        if proc is not None:
            stop_server(proc)
        if args.save:
            Path(args.save).write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
