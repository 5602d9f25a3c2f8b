"""Fault suite: break Redis, a worker, a webhook receiver and PostgreSQL under load; audit after each.

    .venv/bin/python bench/faults.py            # every scenario, full length (~10 min)
    .venv/bin/python bench/faults.py --smoke    # every scenario, short (~3.5-5 min; CI: failed at 420 s)
    .venv/bin/python bench/faults.py --only redis,worker

It starts what production runs, as production runs it, against its own services: a private
`redis-server` (port 6390, append-only file in a temporary directory), a TCP proxy in this process
between the app and PostgreSQL (so "PostgreSQL unreachable" never touches the real server), a
webhook receiver in this process, uvicorn, one Celery worker (prefork, all queues) and beat.
Everything it started is stopped when it ends, also when its deadline (`--deadline-s`) passes or
it receives SIGTERM. The receiver on 127.0.0.1 is allowed through the webhooks' SSRF guard with
WEBHOOK_ALLOWED_TARGETS; the agents and dispatchers use bearer tokens (the page cookie may only
read the API), and a 503 from admission control is retried like any other.

Scenarios (each bounded in time, each ending with an audit printed as figures):

- **redis**: agents create tickets (each with its Idempotency-Key; a failed request is retried with
  the same key) while Redis is stopped and restarted; plans are requested during the outage.
  `--redis-volatile` runs Redis without persistence, so the restart also loses the queued messages
  (the sweeper and the webhooks' deliver_due must find that work again).
- **worker**: a plan run is solving; (a) the pool child is killed with -9: its solver processes
  must exit at once and the run is redelivered; (b) the whole worker (main + pool child) is killed
  with -9, a new worker starts, and the sweeper re-sends the run.
- **webhook**: the receiver is down while tickets are created; it comes back; every delivery
  arrives once (deliver_due retries after the backoff, 45-75 s).
- **postgres**: the proxy refuses and cuts every connection for a while under ticket creation and
  during a solve, then lets them through again.

Audit: 0 lost (every ticket acknowledged 2xx exists), 0 duplicated tickets (one per key) and
webhook deliveries (one row per ticket, received once), every plan run finished or failed with a
reason, no 500 for committed work. The exit status is 1 when any audit fails.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import contextlib

from bench.plan_common import ROOT, Processes, configure, fresh_database, machine, pct  # noqa: E402
from tests.procs import alive, children, cmdline  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_faults"
FINISHED = ("published", "unchanged", "conflict", "superseded", "failed")


# --- the pieces we break ----------------------------------------------------------------------


class Proxy:
    """A TCP proxy we can cut: `down()` closes the listener and every open connection."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        self.port, self.target = port, target
        self._lock = threading.Lock()
        self._socks: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            socks, self._socks = self._socks, set()
        if listener is not None:
            listener.close()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    server.close()
                    return
                self._socks |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


class Receiver:
    """A webhook receiver counting each message id it accepted."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: collections.Counter[str] = collections.Counter()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("content-length", 0)))
                seen[self.headers.get("webhook-id", "")] += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class Redis:
    """A private redis-server with an append-only file (as a production broker keeps its queue)."""

    def __init__(self, port: int, workdir: Path, *, volatile: bool = False) -> None:
        self.port, self.dir, self.volatile = port, workdir, volatile
        self.proc: subprocess.Popen[bytes] | None = None

    def up(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir)]
        # volatile: a restart loses every queued message (the sweeper and deliver_due resend them)
        cmd += ["--appendonly", "no" if self.volatile else "yes", "--save", ""]
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def down(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SHUTDOWN: the append-only file is flushed
            self.proc.wait(timeout=20)
        self.proc = None


# --- load and bookkeeping ---------------------------------------------------------------------


@dataclass
class Load:
    """Ticket-creating agents. Each ticket has a key (its Idempotency-Key and subject); a request
    that fails (5xx, timeout, refused) is retried with the same key until the deadline."""

    base: str
    headers: dict[str, str]
    body: dict[str, Any]
    prefix: str
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (sent at, seconds)
    acked: dict[str, int] = field(default_factory=dict)  # key -> ticket id
    keys: list[str] = field(default_factory=list)
    transport_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, rate: float, duration: float, retry_until: float, agents: int = 4) -> None:
        import httpx

        n = int(rate * duration)
        self.keys = [f"{self.prefix}-{i:05d}-{uuid.uuid4().hex[:6]}" for i in range(n)]
        t0 = time.monotonic()

        def agent(idx: int) -> None:
            with httpx.Client(base_url=self.base, timeout=30) as client:
                for i in range(idx, n, agents):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    self._create(client, self.keys[i], retry_until)

        # daemon: should the suite's deadline pass, the process exits without waiting for them
        threads = [threading.Thread(target=agent, args=(a,), daemon=True) for a in range(agents)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _create(self, client: Any, key: str, retry_until: float) -> None:
        import httpx

        while True:
            sent = time.monotonic()
            try:
                r = client.post(
                    "/api/v1/tickets",
                    json={**self.body, "subject": key},
                    headers={**self.headers, "Idempotency-Key": key},
                )
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            took = time.monotonic() - sent
            with self._lock:
                self.statuses[status] += 1
                self.latencies.append((sent, took))
                if status == 0:
                    self.transport_errors += 1
                if 200 <= status < 300:
                    self.acked[key] = r.json()["id"]
                    return
            if status and status < 500 or time.monotonic() > retry_until:
                return
            time.sleep(0.5)


def _wait(probe: Any, timeout: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return True
        time.sleep(every)
    return bool(probe())


def _latency_line(
    lat: list[tuple[float, float]], since: float | None = None, until: float | None = None
) -> str:
    xs = [s for t, s in lat if (since is None or t >= since) and (until is None or t < until)]
    if not xs:
        return "no requests"
    p50, p95, top = (1000 * v for v in (pct(xs, 0.5), pct(xs, 0.95), max(xs)))
    return f"n={len(xs)} p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {top:.0f} ms"


class Audit:
    """Reads the database directly (not through the proxy) and checks the invariants."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.failures: list[str] = []

    def tickets(self, load: Load) -> dict[str, int]:
        from sqlalchemy import select

        from app.models import Ticket
        from app.platform.db import unit_of_work

        with unit_of_work() as s:
            rows = s.execute(
                select(Ticket.subject, Ticket.id).where(Ticket.subject.like(f"{load.prefix}-%"))
            ).all()
        per_key = collections.Counter(subject for subject, _ in rows)
        lost = [k for k in load.acked if per_key[k] == 0]
        dup = [k for k, c in per_key.items() if c > 1]
        unacked_saved = [k for k in per_key if k not in load.acked]
        figures = {
            "keys": len(load.keys),
            "acknowledged": len(load.acked),
            "rows": len(rows),
            "lost": len(lost),
            "duplicated": len(dup),
            "saved_never_acknowledged": len(unacked_saved),
            "http_500": load.statuses.get(500, 0),
        }
        self._check(figures["lost"] == 0, f"{load.prefix}: lost tickets {lost[:5]}")
        self._check(figures["duplicated"] == 0, f"{load.prefix}: duplicated tickets {dup[:5]}")
        self._check(figures["http_500"] == 0, f"{load.prefix}: {figures['http_500']} answers were 500")
        self._check(len(load.acked) == len(load.keys), f"{load.prefix}: keys never acknowledged")
        return figures

    def deliveries(self, ticket_ids: set[int], timeout: float) -> dict[str, int]:
        from sqlalchemy import select

        from app.models import WebhookDelivery
        from app.platform.db import unit_of_work

        def rows() -> list[tuple[int, str, str]]:
            with unit_of_work() as s:
                found = s.execute(
                    select(WebhookDelivery.payload, WebhookDelivery.message_id, WebhookDelivery.status).where(
                        WebhookDelivery.event == "ticket.created"
                    )
                ).all()
            return [
                (p["data"].get("ticket_id"), m, st)
                for p, m, st in found
                if p["data"].get("ticket_id") in ticket_ids
            ]

        _wait(
            lambda: all(st == "delivered" for _, _, st in rows()) and len(rows()) >= len(ticket_ids), timeout
        )
        found = rows()
        per_ticket = collections.Counter(t for t, _, _ in found)
        figures = {
            "tickets": len(ticket_ids),
            "delivery_rows": len(found),
            "missing_rows": sum(1 for t in ticket_ids if per_ticket[t] == 0),
            "duplicated_rows": sum(1 for c in per_ticket.values() if c > 1),
            "delivered": sum(1 for _, _, st in found if st == "delivered"),
            "received": sum(1 for _, m, _ in found if self.receiver.seen[m] > 0),
            "received_twice": sum(1 for _, m, _ in found if self.receiver.seen[m] > 1),
        }
        ok = figures["missing_rows"] == figures["duplicated_rows"] == figures["received_twice"] == 0
        self._check(ok and figures["received"] == len(ticket_ids), f"deliveries: {figures}")
        return figures

    def runs(self, run_ids: list[int], timeout: float) -> dict[str, Any]:
        from sqlalchemy import select

        from app.models import PlanRun
        from app.platform.db import unit_of_work

        def read() -> list[tuple[int, str, str | None, int]]:
            with unit_of_work() as s:
                stmt = select(PlanRun.id, PlanRun.status, PlanRun.error, PlanRun.attempts)
                return [tuple(r) for r in s.execute(stmt.where(PlanRun.id.in_(run_ids)))]  # type: ignore[misc]

        _wait(lambda: all(st in FINISHED for _, st, _, _ in read()), timeout)
        found = read()
        unfinished = [i for i, st, _, _ in found if st not in FINISHED]
        no_reason = [i for i, st, err, _ in found if st == "failed" and not err]
        self._check(not unfinished, f"runs left unfinished: {unfinished}")
        self._check(not no_reason, f"runs failed without a reason: {no_reason}")
        return {
            "runs": len(found),
            "by_status": dict(collections.Counter(st for _, st, _, _ in found)),
            "attempts": {i: a for i, _, _, a in found},
            "errors": {i: (err or "")[:120] for i, st, err, _ in found if st == "failed"},
        }

    def _check(self, ok: bool, message: str) -> None:
        if not ok:
            self.failures.append(message)
            print(f"   AUDIT FAILED: {message}", flush=True)


# --- the suite --------------------------------------------------------------------------------


class Suite:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.smoke = args.smoke
        self.procs = Processes()
        self.redis = Redis(args.redis_port, workdir, volatile=args.redis_volatile)
        self.proxy: Proxy | None = None
        self.plan_post_s: list[float] = []
        self.receiver = Receiver(args.receiver_port)
        self.audit = Audit(self.receiver)
        self.workdir = workdir
        self.base = ""
        self.results: dict[str, Any] = {}
        self.load_ended = 0.0
        self.figures: dict[str, Any] = {}

    # set-up

    def start(self) -> None:
        from app.integrations.webhooks.signing import new_secret
        from app.models import User, WebhookSubscription
        from app.platform.auth import hash_password, issue_token
        from app.platform.db import unit_of_work
        from bench.plan_world import make_region

        self.redis.up()
        fresh_database(self.args.database_url, self.broker)
        self.receiver.up()
        pg_host, pg_port = _host_port(self.args.database_url)
        self.proxy = Proxy(self.args.proxy_port, (pg_host, pg_port))
        self.proxy.up()
        with unit_of_work() as s:
            users = {
                role: User(
                    email=f"faults-{role}@example.com",
                    name=f"Faults {role}",
                    role=role,
                    password_hash=hash_password("faults-password"),
                )
                for role in ("agent", "dispatcher")
            }
            s.add_all(users.values())
            s.add(
                WebhookSubscription(
                    url=f"http://127.0.0.1:{self.args.receiver_port}/hook",
                    secret=new_secret(),
                    events=["ticket.created"],
                )
            )
            # One region per plan request: a published day takes its visits, so each solve gets fresh ones.
            self.regions = [
                make_region(s, code=f"FLT{i}", jobs=40, engineers=4, seed=11 + i) for i in range(8)
            ]
            s.flush()
            self.tokens = {r: {"Authorization": f"Bearer {issue_token(u)}"} for r, u in users.items()}
        self.ticket_body = {
            "customer_id": self.regions[0].account_id,
            "contact_id": self.regions[0].contact_id,
            "priority": "P3",
            "channel": "phone",
        }
        # The children reach PostgreSQL through the proxy; this process audits it directly.
        os.environ["DATABASE_URL"] = self._proxied_url()
        self.base = self.procs.api(self.args.api_port)
        self.worker = self.procs.worker("faults-worker", "default,plans,urgent", 1)
        self.procs.start(
            "faults-beat",
            [sys.executable, "-m", "celery", "-A", "app.worker", "beat", "-s", str(self.workdir / "beat")]
            + ["--loglevel", "INFO"],
            "beat: Starting",
        )

    @property
    def broker(self) -> str:
        return f"redis://127.0.0.1:{self.args.redis_port}/{self.args.redis_db}"

    def _proxied_url(self) -> str:
        head, _, name = self.args.database_url.rpartition("/")
        scheme, _, _ = head.rpartition("@")
        return f"{scheme}@127.0.0.1:{self.args.proxy_port}/{name}"

    def stop(self) -> None:
        self.procs.stop()
        self.redis.down()
        self.receiver.down()
        if self.proxy is not None:
            self.proxy.down()

    # helpers

    def plan(self, time_limit: float) -> int:
        """Request a plan of the next weekday for a region not planned yet; returns the run id."""
        import httpx

        region = self.regions.pop()
        day = date.today() + timedelta(days=1)
        while day.weekday() >= 5:  # the regions' engineers work Monday to Friday
            day += timedelta(days=1)
        body = {"region_id": region.id, "date": day.isoformat(), "time_limit_s": time_limit}
        key = f"plan-{uuid.uuid4().hex}"
        deadline = time.monotonic() + 60
        while True:
            sent = time.monotonic()
            r = httpx.post(
                f"{self.base}/api/v1/plans",
                json=body,
                headers={**self.tokens["dispatcher"], "Idempotency-Key": key},
                timeout=30,
            )
            self.plan_post_s.append(round(time.monotonic() - sent, 3))
            if r.status_code == 202 or r.status_code < 500 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if r.status_code != 202:
            self.audit._check(False, f"POST /plans answered {r.status_code}: {r.text[:200]}")
            return -1
        return int(r.json()["id"])

    def run_status(self, run_id: int) -> str:
        from app.models import PlanRun
        from app.platform.db import unit_of_work

        with unit_of_work() as s:
            run = s.get(PlanRun, run_id)
            return run.status if run else "missing"

    def load(self, name: str) -> Load:
        return Load(
            self.base, self.tokens["agent"], self.ticket_body, prefix=f"{name}-{uuid.uuid4().hex[:4]}"
        )

    def outbox_rows(self) -> int:
        from app.platform import outbox
        from app.platform.db import unit_of_work

        with unit_of_work() as s:
            return outbox.pending(s)

    def _under_load(
        self, load: Load, chaos: Any, rate: float, duration: float, runs: list[int], settle_s: float
    ) -> tuple[dict[str, int], dict[str, int], dict[str, Any]]:
        """Run `chaos` in a thread while agents create tickets (retrying for a minute and a half
        after the load); then audit the tickets, their deliveries and the plan runs."""
        c = threading.Thread(target=chaos, daemon=True)
        c.start()
        load.run(rate, duration, retry_until=time.monotonic() + duration + 90)
        c.join()
        self.load_ended = time.monotonic()
        tickets = self.audit.tickets(load)
        deliveries = self.audit.deliveries(set(load.acked.values()), timeout=settle_s)
        return tickets, deliveries, self.audit.runs(runs, timeout=settle_s)

    # scenarios

    def scenario_redis(self) -> dict[str, Any]:
        duration, rate = (20.0, 4.0) if self.smoke else (60.0, 8.0)
        load = self.load("redis")
        t0 = time.monotonic()
        stop_at, start_at = t0 + duration * 0.25, t0 + duration * 0.6
        runs: list[int] = []
        plan_during_outage: list[float] = []
        outbox_peak = 0

        def chaos() -> None:
            nonlocal outbox_peak
            runs.append(self.plan(3.0))
            time.sleep(max(0.0, stop_at - time.monotonic()))
            self.redis.down()
            print(f"   redis stopped at +{time.monotonic() - t0:.1f} s", flush=True)
            time.sleep(1.0)
            runs.append(self.plan(3.0))  # requested while the broker is down
            plan_during_outage.append(self.plan_post_s[-1])
            while time.monotonic() < start_at:
                outbox_peak = max(outbox_peak, self.outbox_rows())
                time.sleep(0.5)
            self.redis.up()
            print(f"   redis started at +{time.monotonic() - t0:.1f} s", flush=True)

        tickets, deliveries, runs_fig = self._under_load(load, chaos, rate, duration, runs, settle_s=150)
        drained = _wait(lambda: self.outbox_rows() == 0, 60)
        return {
            "tickets": tickets,
            "statuses": dict(load.statuses),
            "latency_during_outage": _latency_line(load.latencies, stop_at, start_at),
            "latency_overall": _latency_line(load.latencies),
            "post_plans_during_outage_s": plan_during_outage,
            "outbox_peak_rows": outbox_peak,
            "outbox_empty_after": drained,
            "deliveries": deliveries,
            "settled_after_load_s": round(time.monotonic() - self.load_ended, 1),
            "runs": runs_fig,
        }

    def _solvers(self, pid: int) -> list[int]:
        return [c for c in children(pid) if b"dispatch.worker" in cmdline(c)]

    def _solving(self, run_id: int) -> tuple[int, list[int]] | None:
        """(pool child, its solver processes) once the run is solving."""
        if self.run_status(run_id) != "running":
            return None
        for child in children(self.worker.pid):
            solvers = self._solvers(child)
            if len(solvers) == 2:
                return child, solvers
        return None

    def _kill_mid_solve(self, run_id: int, label: str, whole_worker: bool) -> float | None:
        """Wait until `run_id` is solving, SIGKILL its pool child (and with `whole_worker` the
        worker's main process, not the solvers); returns when the kill happened, None if the solve
        never started. Checks that the solver processes exit by themselves."""
        _wait(lambda: self._solving(run_id) is not None, 90, every=0.2)
        found = self._solving(run_id)
        if found is None:
            self.audit._check(False, f"worker ({label}): the solve never started")
            return None
        child, solvers = found
        time.sleep(2.0)  # well inside the solve
        killed = time.monotonic()
        if whole_worker:
            os.kill(self.worker.pid, signal.SIGKILL)
        os.kill(child, signal.SIGKILL)
        gone = _wait(lambda: not any(alive(p) for p in solvers), 20, every=0.05)
        self.figures[f"{label}_solvers_exit_s"] = round(time.monotonic() - killed, 2) if gone else None
        self.audit._check(gone, f"worker ({label}): solver processes outlived their parent")
        return killed

    def scenario_worker(self) -> dict[str, Any]:
        figures: dict[str, Any] = {}
        self.figures = figures
        limit = 8.0 if self.smoke else 15.0
        # (a) the pool child killed with -9: the main process redelivers at once.
        run_a = self.plan(limit)
        if self._kill_mid_solve(run_a, "a", whole_worker=False) is None:
            return figures
        # (b) the whole worker killed with -9: a new worker starts, the sweeper re-sends the run.
        run_b = self.plan(limit)
        killed = self._kill_mid_solve(run_b, "b", whole_worker=True)
        if killed is None:
            return figures
        self.procs.stop("faults-worker")
        self.worker = self.procs.worker("faults-worker-2", "default,plans,urgent", 1)
        recovered = _wait(lambda: self.run_status(run_b) in FINISHED, 240)
        figures["b_recovered_s"] = round(time.monotonic() - killed, 1) if recovered else None
        figures["runs"] = self.audit.runs([run_a, run_b], timeout=120)
        return figures

    def scenario_webhook(self) -> dict[str, Any]:
        n = 10 if self.smoke else 30
        self.receiver.down()
        load = self.load("webhook")
        load.run(rate=5.0, duration=n / 5.0, retry_until=time.monotonic() + 60)
        tickets = self.audit.tickets(load)
        ids = set(load.acked.values())
        failed_first = _wait(lambda: self._attempted(ids), 60)
        self.receiver.up()
        back = time.monotonic()
        deliveries = self.audit.deliveries(ids, timeout=240)
        return {
            "tickets": tickets,
            "all_attempted_while_down": failed_first,
            "deliveries": deliveries,
            "delivered_after_receiver_back_s": round(time.monotonic() - back, 1),
        }

    def _attempted(self, ticket_ids: set[int]) -> bool:
        from sqlalchemy import select

        from app.models import WebhookDelivery
        from app.platform.db import unit_of_work

        with unit_of_work() as s:
            rows = s.execute(select(WebhookDelivery.payload, WebhookDelivery.attempts)).all()
        mine = [a for p, a in rows if p.get("data", {}).get("ticket_id") in ticket_ids]
        return len(mine) == len(ticket_ids) and all(a >= 1 for a in mine)

    def scenario_postgres(self) -> dict[str, Any]:
        duration, rate, outage = (20.0, 4.0, 6.0) if self.smoke else (60.0, 8.0, 15.0)
        load = self.load("postgres")
        t0 = time.monotonic()
        down_at = t0 + duration * 0.3
        runs: list[int] = []

        def chaos() -> None:
            runs.append(self.plan(10.0))
            time.sleep(max(0.0, down_at - time.monotonic()))
            self.proxy.down()
            print(f"   PostgreSQL cut at +{time.monotonic() - t0:.1f} s", flush=True)
            time.sleep(outage)
            self.proxy.up()
            print(f"   PostgreSQL back at +{time.monotonic() - t0:.1f} s", flush=True)

        tickets, deliveries, runs_fig = self._under_load(load, chaos, rate, duration, runs, settle_s=240)
        return {
            "tickets": tickets,
            "statuses": dict(load.statuses),
            "latency_during_outage": _latency_line(load.latencies, down_at, down_at + outage),
            "latency_overall": _latency_line(load.latencies),
            "deliveries": deliveries,
            "runs": runs_fig,
        }


def _host_port(url: str) -> tuple[str, int]:
    hostport = url.rsplit("@", 1)[1].split("/", 1)[0]
    host, _, port = hostport.partition(":")
    return host, int(port or 5432)


class DeadlinePassed(Exception):
    pass


def _fail_after(seconds: float) -> None:
    """Bound the run (CI): SIGALRM, or a SIGTERM from outside, ends the scenario in progress with
    an exception, so `main`'s finally stops every process this suite started."""

    def expire(signum: int, frame: Any) -> None:
        raise DeadlinePassed(signal.Signals(signum).name)

    signal.signal(signal.SIGALRM, expire)
    signal.signal(signal.SIGTERM, expire)
    signal.alarm(max(1, int(seconds)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="short scenarios (for CI)")
    ap.add_argument("--only", default="redis,worker,webhook,postgres")
    ap.add_argument("--database-url", default=DEFAULT_DB, help="dropped and re-created")
    ap.add_argument("--redis-port", type=int, default=6390)
    ap.add_argument("--redis-db", type=int, default=4)
    ap.add_argument(
        "--redis-volatile", action="store_true", help="Redis without persistence: a restart loses the queue"
    )
    ap.add_argument("--proxy-port", type=int, default=6433)
    ap.add_argument("--receiver-port", type=int, default=8791)
    ap.add_argument("--api-port", type=int, default=8790)
    ap.add_argument(
        "--deadline-s",
        type=float,
        help="stop everything and fail after this long (default: 420 s with --smoke, 1200 s otherwise)",
    )
    args = ap.parse_args()
    deadline_s = args.deadline_s or (420.0 if args.smoke else 1200.0)
    workdir = Path(tempfile.mkdtemp(prefix="fieldline-faults-"))
    configure(
        args.database_url,
        f"redis://127.0.0.1:{args.redis_port}/{args.redis_db}",
        # Short enough to see the sweeper act within a scenario; production keeps the defaults.
        PLAN_RUN_GRACE_S="10",
        PLAN_QUEUED_RESEND_S="30",
        PLAN_SOLVER_WORKERS="2",
        # The receiver listens on 127.0.0.1, which the webhooks' SSRF guard refuses unless allowed.
        WEBHOOK_ALLOWED_TARGETS="127.0.0.1/32",
    )
    suite = Suite(args, workdir)
    started = time.monotonic()
    print(f"fault suite ({'smoke' if args.smoke else 'full'}); machine {machine()}", flush=True)
    _fail_after(deadline_s)
    try:
        suite.start()
        for name in [n.strip() for n in args.only.split(",") if n.strip()]:
            t = time.monotonic()
            print(f"== {name}", flush=True)
            figures = getattr(suite, f"scenario_{name}")()
            figures["scenario_s"] = round(time.monotonic() - t, 1)
            suite.results[name] = figures
            for k, v in figures.items():
                print(f"   {k}: {v}", flush=True)
    except DeadlinePassed:
        suite.audit._check(False, f"the suite did not finish within {deadline_s:.0f} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        suite.stop()
    print(f"== total {time.monotonic() - started:.0f} s; load average {os.getloadavg()}")
    print(f"logs: {ROOT / 'var' / 'bench'} (redis: {workdir}, removed when the audit passes)")
    if not suite.audit.failures:
        shutil.rmtree(workdir, ignore_errors=True)  # kept for diagnosis when an audit failed
    if suite.audit.failures:
        print(f"AUDIT FAILED ({len(suite.audit.failures)}):")
        for f in suite.audit.failures:
            print(f" - {f}")
        return 1
    print("AUDIT OK: 0 lost, 0 duplicated, every run finished or failed with a reason, no 500")
    return 0


if __name__ == "__main__":
    sys.exit(main())
