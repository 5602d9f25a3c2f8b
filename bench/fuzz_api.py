"""Schemathesis over the whole OpenAPI of the API, in-process: 0 server errors is the bar.

    .venv/bin/python bench/fuzz_api.py                                  # fresh SQLite file
    .venv/bin/python bench/fuzz_api.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_fuzz
    .venv/bin/python bench/fuzz_api.py --examples 50 --seed 7 --only tickets

It makes a fresh database (a temporary SQLite file, or drops and re-creates the PostgreSQL database
named in --database-url), migrates it, seeds a small demo company with the demo users, and drives
the app in-process through schemathesis' ASGI transport. Every operation gets schemathesis'
deterministic boundary cases (--coverage), then --examples generated cases, half valid for the
schema and half not (wrong types, huge numbers, missing fields), each sent as one of the five
roles; half of all cases have their ids drawn from the seeded rows (a random id is nearly always
a 404 and tests little), and edits carry the resource's current ETag as If-Match (some generated
ones go without, which must be a 428).
Checks: `not_a_server_error` (any 5xx or unhandled exception fails the run: exit 1) and
`response_schema_conformance` (counted and shown; --strict-schema makes them fail too).
Then the stateful phase runs the links of the schema (declared, or inferred by schemathesis from
the paths) when it has any. bench/README.md "API fuzzing" has the figures.

`run_fuzz` is also the core of tests/platform/test_fuzz_api.py (a few examples per operation).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("admin", "manager", "dispatcher", "agent", "engineer")
DEMO_LOGINS = {role: f"{role}@example.com" for role in ROLES[:4]} | {"engineer": "engineer1@example.com"}
DEMO_PASSWORD = "demo"
EDIT_METHODS = {"PATCH", "PUT", "DELETE", "POST"}
SIGN_OUT = {"/api/v1/auth/logout"}
RELAY_TOKEN = "fuzz-relay"  # INBOUND_EMAIL_TOKEN of the fuzzed app, sent on every request
SEEDED_IDS = 12  # the seeded tables all have rows 1..12 at least (see --customers)


_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Warning)\b")  # "sqlalchemy.exc.IntegrityError: ..."


@dataclass
class Finding:
    """A 5xx (or an exception out of the app) and how to reproduce it."""

    operation: str
    status: int
    request: str
    detail: str


@dataclass
class Report:
    calls: Counter[str] = field(default_factory=Counter)  # operation → requests sent
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    server_errors: list[Finding] = field(default_factory=list)
    schema_violations: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    stateful_steps: int = 0
    links: int = 0
    stateful_stopped: str | None = None  # why the state machine ended early, if it did
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def distinct_errors(self) -> dict[tuple[str, str], Finding]:
        """First finding per (operation, first line of the cause)."""
        seen: dict[tuple[str, str], Finding] = {}
        for f in self.server_errors:
            causes = [x for x in f.detail.splitlines() if _EXCEPTION_LINE.match(x)] or [f.detail[:200]]
            seen.setdefault((f.operation, causes[-1][:200]), f)
        return seen


class _ExceptionLog(logging.Handler):
    """Keeps the tracebacks the app logs (its catch-all handler logs and answers 500)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append("".join(traceback.format_exception(*record.exc_info)))


def _etag_source(path: str, gets: set[str]) -> str | None:
    """The GET whose ETag guards an edit of `path`: the path itself or its nearest parent."""
    parts = path.split("/")
    while len(parts) > 3:
        candidate = "/".join(parts)
        if candidate in gets:
            return candidate
        parts = parts[:-1]
    return None


class _Fuzzer:
    """The shared state of one run: the in-process client, the tokens, what was seen."""

    def __init__(self, app: Any, login: Callable[[str], str], known_ids: Sequence[int]) -> None:
        from schemathesis.python import asgi

        self.report = Report()
        self.login = login
        self.known_ids = list(known_ids)
        self.client = asgi.get_client(app)
        self.log = _ExceptionLog()
        self.headers_for: dict[str, dict[str, str]] = {}

    def __enter__(self) -> _Fuzzer:
        self.client.__enter__()
        logging.getLogger().addHandler(self.log)
        self.sign_in()
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self.log)
        self.client.__exit__(None, None, None)

    def sign_in(self) -> None:
        for role in ROLES:
            token = self.login(role)
            self.headers_for[role] = {"Authorization": f"Bearer {token}", "X-Relay-Token": RELAY_TOKEN}

    def send(self, label: str, case: Any, headers: dict[str, str]) -> Any:
        """Send one case and check the answer; the response, or None when the app raised."""
        from schemathesis.checks import not_a_server_error
        from schemathesis.specs.openapi.checks import response_schema_conformance

        report, before = self.report, len(self.log.records)
        report.calls[label] += 1
        try:
            response = case.call(session=self.client, headers=headers)
        except Exception as exc:  # the app raised past its handlers: that is a server error too
            detail = "".join(traceback.format_exception(exc))
            report.server_errors.append(Finding(label, 599, _describe(case), detail))
            return None
        report.statuses[label][response.status_code] += 1
        if response.status_code >= 500 or len(self.log.records) > before:
            detail = self.log.records[-1] if len(self.log.records) > before else response.text[:500]
            report.server_errors.append(Finding(label, response.status_code, _describe(case), detail))
            return response
        for check in (not_a_server_error, response_schema_conformance):
            try:
                case.validate_response(response, checks=[check], headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:  # one failure, or a FailureGroup
                text = " | ".join(_failure_lines(exc))
                report.schema_violations[label].append(f"{response.status_code}: {text}"[:400])
        return response

    def if_match(self, path: str, headers: dict[str, str]) -> dict[str, str]:
        etag = self.client.get(path, headers=headers).headers.get("etag")
        return {"If-Match": etag} if etag else {}

    def use_known_ids(self, case: Any, known: int) -> None:
        """Ids in the path, the query and the body's top level point at seeded rows instead."""
        for container in (case.path_parameters, case.query, case.body):
            if isinstance(container, dict):
                for name, value in container.items():
                    if (name.endswith("_id") or name == "number") and isinstance(value, int | str):
                        container[name] = known

    def operation(self, op: Any, gets: set[str], examples: int, seed: int | None) -> None:
        """Half the cases valid for the schema, half not, each as a drawn role."""
        import hypothesis
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
        from schemathesis import GenerationMode

        label = f"{op.method.upper()} {op.path}"
        source = _etag_source(op.path, gets) if op.method.upper() in EDIT_METHODS else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=max(1, examples // 2),
                deadline=None,
                database=None,
                derandomize=seed is None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate],  # no shrinking: every case counts once
                print_blob=False,
            )
            @given(
                case=op.as_strategy(generation_mode=mode),
                role=st.sampled_from(ROLES),
                real_ids=st.booleans(),
                known=st.sampled_from(self.known_ids),
                with_etag=st.integers(0, 4),  # one case in five goes without If-Match: a 428
            )
            def one(case: Any, role: str, real_ids: bool, known: int, with_etag: int) -> None:
                if real_ids:
                    self.use_known_ids(case, known)
                headers = dict(self.headers_for[role])
                if source and with_etag and isinstance(case.path_parameters, dict):
                    # (a parameter the parent path needs may be missing from a negative case)
                    with contextlib.suppress(KeyError, IndexError, ValueError):
                        headers |= self.if_match(source.format(**case.path_parameters), headers)
                self.send(label, case, headers)
                if op.path in SIGN_OUT:
                    self.sign_in()

            # Nothing in some operations can be made invalid (no parameters, no body).
            with contextlib.suppress(hypothesis.errors.Unsatisfiable):
                (hypothesis.seed(seed)(one) if seed is not None else one)()

    def coverage(self, schema: Any, op: Any, gets: set[str], cap: int | None) -> None:
        """Schemathesis' deterministic boundary cases (min/max, empty, wrong types, missing fields)."""
        from schemathesis import GenerationMode

        label = f"{op.method.upper()} {op.path}"
        source = _etag_source(op.path, gets) if op.method.upper() in EDIT_METHODS else None
        cases = list(
            schema.iter_coverage_cases(
                op,
                generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                generation_config=schema.config.generation_for(operation=op, phase="coverage"),
            )
        )
        if cap is not None and len(cases) > cap:  # an even spread over the kinds of boundary
            cases = [cases[i * len(cases) // cap] for i in range(cap)]
        # The admin passes every role check but the engineer's own pages (/me/...).
        role = "engineer" if op.path.startswith("/api/v1/me/") else "admin"
        for i, case in enumerate(cases):
            if i % 2:
                self.use_known_ids(case, self.known_ids[i % len(self.known_ids)])
            headers = dict(self.headers_for[role])
            if source and isinstance(case.path_parameters, dict):
                with contextlib.suppress(KeyError, IndexError, ValueError):
                    headers |= self.if_match(source.format(**case.path_parameters), headers)
            self.send(label, case, headers)
            if op.path in SIGN_OUT:
                self.sign_in()


def run_fuzz(
    app: Any,
    login: Callable[[str], str],
    *,
    examples: int,
    seed: int | None = 0,
    only: str | None = None,
    stateful_steps: int = 0,
    coverage: int | None = None,
    known_ids: Sequence[int] = range(1, SEEDED_IDS + 1),
    progress: Callable[[str, int, Counter[int]], None] | None = None,
) -> Report:
    """Fuzz every operation of `app`'s OpenAPI; `login(role)` gives a bearer token for that role.

    Per operation: schemathesis' coverage cases (`coverage` of them, evenly spread; None: all, 0: none),
    then `examples` generated cases; then `stateful_steps` runs of the links' state machine.
    """
    import schemathesis

    # Inbound e-mail documents its raw body as message/rfc822 (or text/plain): the same bytes.
    schemathesis.serializer.alias("message/rfc822", "text/plain")
    started = time.perf_counter()
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    # Signing out revokes every token of the user: those operations go last, and sign in again.
    operations = sorted((r.ok() for r in schema.get_all_operations()), key=lambda op: op.path in SIGN_OUT)
    gets = {op.path for op in operations if op.method.upper() == "GET"}
    with _Fuzzer(app, login, known_ids) as fuzzer:
        for op in operations:
            label = f"{op.method.upper()} {op.path}"
            if only and not re.search(only, label):
                continue
            if coverage != 0:
                fuzzer.coverage(schema, op, gets, coverage)
            fuzzer.operation(op, gets, examples, seed)
            if progress:
                progress(label, fuzzer.report.calls[label], fuzzer.report.statuses[label])
        report = fuzzer.report
        report.links, report.stateful_steps = _stateful(schema, fuzzer, stateful_steps)
    report.seconds = time.perf_counter() - started
    return report


class _AppRaised(Exception):
    """The app raised instead of answering: recorded already, the state machine stops there."""


def _stateful(schema: Any, fuzzer: _Fuzzer, steps: int) -> tuple[int, int]:
    """Run the schema's links as a state machine (as the admin); (links, linked calls)."""
    import inspect

    from hypothesis import HealthCheck, Phase, settings

    try:
        machine = schema.as_state_machine()
    except Exception:  # noqa: BLE001 - no links at all: nothing to chain
        return 0, 0
    # One rule per link (declared or inferred from matching ids), plus one random entry per operation.
    rules = [n for n, v in inspect.getmembers(machine) if hasattr(v, "hypothesis_stateful_rule")]
    links = sum(not n.startswith("RANDOM__") for n in rules)
    if not steps or not links:
        return links, 0
    calls = 0

    class Machine(machine):  # type: ignore[misc, valid-type]
        def call(self, case: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            label = f"{case.operation.method.upper()} {case.operation.path} (linked)"
            response = fuzzer.send(label, case, dict(fuzzer.headers_for["admin"]))
            if response is None:
                raise _AppRaised(label)
            return response

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            pass  # send() has checked it

    try:
        Machine.run(
            settings=settings(
                max_examples=steps,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],  # no replay or shrinking: the database has moved on since
                stateful_step_count=5,
            )
        )
    except _AppRaised:
        pass  # recorded by send()
    except Exception as exc:  # noqa: BLE001 - hypothesis gave up (e.g. a bundle emptied by a delete)
        fuzzer.report.stateful_stopped = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return links, calls


def _failure_lines(exc: BaseException) -> list[str]:
    """The first lines of each failure (a schemathesis failure's message is a page long)."""
    if isinstance(exc, BaseExceptionGroup):
        return [line for sub in exc.exceptions for line in _failure_lines(sub)]
    lines = [x.strip() for x in str(exc).splitlines() if x.strip()]
    return [" ".join(lines[:2])[:200]]


def _describe(case: Any) -> str:
    try:
        return case.as_curl_command()
    except Exception:  # noqa: BLE001 - best effort, the finding is kept anyway
        return repr(case)


def print_report(report: Report, out: Any = sys.stdout) -> None:
    width = max((len(k) for k in report.calls), default=10)
    print(f"\n{'operation':<{width}}  {'calls':>5}  statuses", file=out)
    for label in sorted(report.calls, key=lambda s: (s.split(" ", 1)[1], s)):
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(report.statuses[label].items()))
        print(f"{label:<{width}}  {report.calls[label]:>5}  {statuses}", file=out)
    operations = sum(not label.endswith("(linked)") for label in report.calls)
    totals: Counter[int] = Counter()
    for c in report.statuses.values():
        totals.update(c)
    print(
        f"\n{operations} operations, {report.total} requests in {report.seconds:.1f} s "
        f"({report.total / max(report.seconds, 1e-9):.0f}/s); statuses "
        + " ".join(f"{code}:{n}" for code, n in sorted(totals.items())),
        file=out,
    )
    print(f"stateful: {report.links} links, {report.stateful_steps} linked calls", file=out)
    if report.stateful_stopped:
        print(f"  (stopped early: {report.stateful_stopped})", file=out)
    violations = sum(len(v) for v in report.schema_violations.values())
    print(f"response-schema violations: {violations}", file=out)
    for label, items in sorted(report.schema_violations.items()):
        print(f"  {label}: {len(items)} e.g. {items[0][:200]!r}", file=out)
    distinct = report.distinct_errors()
    print(f"server errors: {len(report.server_errors)} ({len(distinct)} distinct)", file=out)
    for (label, _), f in distinct.items():
        print(f"\n--- {label} → {f.status}\n{f.request}\n{f.detail.strip()[-1500:]}", file=out)


# ---------------------------------------------------------------------------------------------
# The standalone run: a fresh database, the demo company, tokens, then run_fuzz.


def fresh_database(url: str | None) -> str:
    if not url:
        return f"sqlite:///{tempfile.mkdtemp(prefix='fieldline-fuzz-')}/fuzz.db"
    if url.startswith("postgresql"):
        import psycopg

        base, _, name = url.rpartition("/")
        admin = base.replace("postgresql+psycopg", "postgresql") + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    return url


def prepare(url: str, customers: int) -> None:
    """Migrate and seed through the shipped CLI, exactly as `make run` does."""
    env = os.environ | {"DATABASE_URL": url, "DEMO_MODE": "1", "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "app.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*cli, "seed", "--customers", str(customers)],
        env=env,
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def demo_login(app: Any) -> Callable[[str], str]:
    """login(role): a fresh token of that role's demo user, through the API's own password flow."""
    from fastapi.testclient import TestClient

    def login(role: str) -> str:
        with TestClient(app) as c:
            r = c.post("/api/v1/auth/token", data={"username": DEMO_LOGINS[role], "password": DEMO_PASSWORD})
            r.raise_for_status()
            return str(r.json()["access_token"])

    return login


def main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--database-url", help="PostgreSQL URL (its database is dropped and re-created)")
    p.add_argument("--examples", type=int, default=30, help="cases per operation (half valid, half not)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (same seed, same cases)")
    p.add_argument("--customers", type=int, default=30, help="size of the seeded demo company")
    p.add_argument(
        "--coverage", type=int, default=None, help="boundary cases per operation (default: all, ~45)"
    )
    p.add_argument("--stateful", type=int, default=50, help="state-machine runs when links exist")
    p.add_argument("--only", help="regex over 'METHOD /path' to fuzz a subset")
    p.add_argument("--strict-schema", action="store_true", help="response-schema violations fail too")
    args = p.parse_args(list(argv) if argv is not None else None)

    url = fresh_database(args.database_url)
    os.environ.update(
        DATABASE_URL=url,
        DEMO_MODE="1",
        SECRET_KEY=os.environ.get("SECRET_KEY", "fuzz-secret"),
        TASK_ALWAYS_EAGER="1",
        SCHEDULER_ENABLED="0",
        KB_EMBEDDINGS="0",
        LOG_LEVEL="CRITICAL",
        INBOUND_EMAIL_TOKEN=RELAY_TOKEN,  # the app's own error log is caught by run_fuzz, not printed
    )
    os.environ.pop("CELERY_BROKER_URL", None)
    t0 = time.perf_counter()
    prepare(url, args.customers)
    sys.path.insert(0, str(ROOT))
    from app.main import app

    load = os.getloadavg()
    print(
        f"database {url.split('@')[-1]} ready in {time.perf_counter() - t0:.1f} s; "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"{args.examples} examples/operation, seed {args.seed}"
    )

    def progress(label: str, n: int, statuses: Counter[int]) -> None:
        print(f"  {label}: {n}", file=sys.stderr, flush=True)

    report = run_fuzz(
        app,
        demo_login(app),
        examples=args.examples,
        seed=args.seed,
        only=args.only,
        stateful_steps=args.stateful,
        coverage=args.coverage,
        progress=progress,
    )
    print_report(report)
    load = os.getloadavg()
    print(f"load at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    failed = bool(report.server_errors) or (args.strict_schema and bool(report.schema_violations))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
