"""The `fieldline` command line."""

from __future__ import annotations

import math
import sys
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.orm import Session

    from app.models import User

cli = typer.Typer(help="Fieldline service desk and field dispatch.", no_args_is_help=True)
console = Console()
# Errors go to stderr: `kb export - > file` must not write them into the file, and a full stdout
# must not turn them into a traceback.
errors = Console(stderr=True)

# Bounds of the numbers the commands take (a parameter out of them is a usage error, exit 2, as
# typer gives for any bad parameter; a refused action is exit 1).
MAX_SEED_CUSTOMERS = 1_000_000  # 100 000 is measured in docs/surveys.md
MAX_SEED_ARTICLES = 1_000_000  # the benchmark uses 50 000
MAX_PROCESSES = 256  # --workers, --concurrency


def _fail(message: str, code: int = 1) -> None:
    errors.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _input_file(file: str) -> Path:
    """``file`` as a path to read, or exit 1 saying why it cannot be (a folder is not "no such file")."""
    path = Path(file)
    if path.is_dir():
        _fail(f"{file} is a directory, not a file")
    elif not path.exists():
        _fail(f"no such file: {file}")
    elif not path.is_file():
        _fail(f"{file} is not a regular file")
    return path


def _plan_date(value: str | None) -> str | None:
    """--date a day the planner can store (runs.create_run's rule), or a usage error (exit 2)."""
    if value is None:
        return None
    from app.platform.inputs import problem_with

    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD") from None
    if problem := problem_with(day):
        raise typer.BadParameter(f"{value!r} {problem}")
    return day.isoformat()


def _time_limit(value: float | None) -> float | None:
    """--time-limit within what the API accepts: more than 0, at most MAX_TIME_LIMIT_S seconds."""
    from app.planning.schemas import MAX_TIME_LIMIT_S

    if value is not None and not (math.isfinite(value) and 0 < value <= MAX_TIME_LIMIT_S):
        raise typer.BadParameter(f"{value} is not a number of seconds above 0 and at most {MAX_TIME_LIMIT_S}")
    return value


@cli.command()
def migrate() -> None:
    """Apply the database migrations (alembic upgrade head)."""
    from app.platform.migrations import upgrade_head

    upgrade_head()
    console.print("database is up to date")


def _read_password(from_stdin: bool) -> str:
    """Never an option: a password on the command line ends up in `ps` and the shell history."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


PASSWORD_STDIN = typer.Option(
    False, "--password-stdin", help="read the password from the first line of stdin (for scripts)"
)


@cli.command("create-user")
def create_user(
    email: str = typer.Option(..., prompt=True),
    name: str = typer.Option("", help="display name"),
    role: str = typer.Option("agent", help="agent|dispatcher|engineer|manager|admin"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Create a user (e.g. the first admin: --role admin); the password is asked for, hidden."""
    from sqlalchemy.exc import IntegrityError

    from app.models import Role
    from app.platform.auth import create_user as _create
    from app.platform.db import unit_of_work
    from app.platform.passwords import check_email, check_password_policy

    if role not in Role.__members__:
        _fail(f"unknown role {role!r}; choose one of {', '.join(Role.__members__)}")
    try:
        email = check_email(email)
        password = _read_password(password_stdin)
        check_password_policy(password, email=email)
        with unit_of_work() as session:
            user = _create(session, email=email, name=name or email, role=role, password=password)
            uid = user.id
    except ValueError as exc:
        _fail(str(exc))
    except IntegrityError:
        _fail(f"a user with e-mail {email} exists already")
    console.print(f"created {role} {email} (id {uid})")


@cli.command("set-password")
def set_password(
    email: str = typer.Argument(..., help="the user's e-mail address"), password_stdin: bool = PASSWORD_STDIN
) -> None:
    """Give a user a new password; every session of theirs is signed out."""
    from app.platform.auth import set_password as _set
    from app.platform.db import unit_of_work

    try:
        password = _read_password(password_stdin)
        with unit_of_work() as session:
            _set(session, _user_by_email(session, email), password)
    except ValueError as exc:
        _fail(str(exc))
    console.print(f"password of {email} changed; their sessions are signed out")


@cli.command("deactivate-user")
def deactivate_user(email: str = typer.Argument(..., help="the user's e-mail address")) -> None:
    """Stop a user from signing in; every session of theirs ends at once. Refused as on the accounts
    page: the last active admin, an engineer who still has open visits."""
    from app.accounts import service as accounts
    from app.hooks import install_domain_hooks
    from app.platform.db import unit_of_work
    from app.platform.errors import AppError

    install_domain_hooks()  # an engineer's place in planning follows the account (field.engineers.staffing)
    try:
        with unit_of_work() as session:
            user = _user_by_email(session, email)
            edit = accounts.edit_user(
                session, user, values={"is_active": False}, version=user.version, actor=_command_line()
            )
            name = user.name
    except ValueError as exc:
        _fail(str(exc))
    except AppError as exc:  # the rules the API and the pages apply, in their words
        _fail(exc.detail)
    console.print(f"{email} is deactivated" if edit.changed else f"{email} was deactivated already")
    if edit.handover is not None and (said := edit.handover.describe(name)):
        console.print(said)  # open tickets back in the queue, customers still owned


def _command_line() -> User:
    """The actor of a change made here: no account (the audit log's user stays empty, as for the seed).
    `accounts.update_user` wants a User; this one is never added to the session."""
    from app.models import User as UserRow

    return UserRow(name="command line")


def _user_by_email(session: Session, email: str) -> User:
    from sqlalchemy import select

    from app.models import User as UserRow

    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None:
        raise ValueError(f"no user with e-mail {email}")
    return user


@cli.command()
def seed(
    customers: int = typer.Option(
        300, "--customers", min=1, max=MAX_SEED_CUSTOMERS, help="number of customer accounts"
    ),
    if_empty: bool = typer.Option(False, "--if-empty", help="do nothing when customers exist"),
    seed: int = typer.Option(42, "--seed", help="random seed (same seed, same company)"),
    kb_articles: int = typer.Option(
        0,
        "--kb-articles",
        min=0,
        max=MAX_SEED_ARTICLES,
        help="generated knowledge articles on top of the demo set (benchmark: 50000)",
    ),
) -> None:
    """Create a demo service company in Munich with six months of ticket and visit history."""
    from app.seed.cli import run_seed

    _require_migrated()
    result = run_seed(console, customers=customers, if_empty=if_empty, seed_value=seed, fail=_fail)
    if result is None or result.skipped:
        return
    _seed_knowledge(kb_articles, seed)
    # A new user should see routes at once: plan today and tomorrow in every region. The seed
    # (app.seed) cannot import the planner; this composition root joins the two.
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from app.planning.demo import publish_days
    from app.platform.config import get_settings

    today = datetime.now(ZoneInfo(get_settings().time_zone)).date()
    # The past days' plans, as the visits followed them (travel share and the board's past days
    # read plans; the seeded history has only visits).
    from app.planning.history import publish_history
    from app.platform.db import unit_of_work

    with unit_of_work() as session:
        history = publish_history(session, before=today)
    console.print(
        f"wrote the published plans of {history.region_days} past region-days "
        f"({history.routes} routes, {history.stops} visits)"
    )
    days = [today, today + timedelta(days=1)]
    while days[-1].weekday() >= 5:  # over a weekend, up to the next working day
        days.append(days[-1] + timedelta(days=1))
    done = publish_days(days)
    console.print(
        f"published the plans of {', '.join(d.strftime('%a %d %b') for d in days)} "
        f"({done.published}/{done.runs} region-days) in "
        f"{done.seconds:.1f} s: {done.served} visits planned, {done.unassigned} left open, "
        f"{done.at_risk} at risk of missing their arrival due time"
    )
    # The last week's unhappy answers get their recovery tickets, as the running service would
    # have opened them (the seed cannot import app.feedback either).
    from app.feedback.demo import RECENT, open_recent_recoveries

    with unit_of_work() as session:
        opened = open_recent_recoveries(session, now=datetime.now(UTC))
    console.print(f"opened {opened} recovery tickets for the detractors of the last {RECENT.days} days")


def _require_migrated(*, starting: bool = False) -> None:
    """Exit 2 unless the database is at the latest migration (migrations.schema_problem): seeding a
    fresh one failed on its first insert ("no such table: account"), an older one on the first
    column it lacks; a server started on it answered every request with that error. Not migrated
    here: `make run` and the compose file migrate first, and nothing should change a schema unasked.

    A database that cannot be read is exit 1, except for a process `starting` (serve, worker): an
    outage at start-up passes with a warning, since requests meet it as a 503 and retry, and
    neither does a database a newer release migrated stop it (a roll-back of the code)."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.platform.config import get_settings
    from app.platform.migrations import schema_problem_at_start

    try:  # not on the app's pooled engine: `worker` forks its pool right after
        problem = schema_problem_at_start(get_settings().database_url, newer_ok=starting)
    except SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if not starting:
            _fail(f"cannot read the database: {message}")
        errors.print(f"[yellow]warning:[/yellow] cannot check the database's migration now: {message}")
        return
    if problem:
        _fail(problem, code=2)


def _seed_knowledge(generated: int, seed: int) -> None:
    """The demo's knowledge articles (EN + ZH) and ``generated`` more; the seed cannot import
    app.knowledge, so this composition root joins the two, as it does with the planner."""
    import itertools
    import time

    from app.knowledge.index import process_cache
    from app.knowledge.jsonl import import_records
    from app.platform.db import read_only_transactions, unit_of_work
    from app.seed.kb_articles import DEMO_ARTICLES, generated_articles

    started = time.perf_counter()
    records = itertools.chain(DEMO_ARTICLES, generated_articles(generated, seed=seed))
    with unit_of_work() as session:
        report = import_records(session, records, actor=None)
    console.print(f"knowledge base: {report.created} articles in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    with read_only_transactions(), unit_of_work() as session:  # reads only: no write lock
        process_cache().persist(session)
    console.print(f"knowledge index built and saved in {time.perf_counter() - started:.1f} s")


@cli.command()
def serve(
    host: str = typer.Option(None, envvar="HOST"),
    port: int = typer.Option(None, envvar="PORT", min=1, max=65535),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, max=MAX_PROCESSES, help="web processes (>1: PostgreSQL)"
    ),
) -> None:
    """Serve web pages and the API (tasks on an in-process worker unless a broker is set)."""
    from app.platform import serve as server
    from app.platform.config import get_settings

    settings = get_settings()
    refused = server.refuse_workers(settings, workers)
    if refused:
        _fail(refused)
    _require_migrated(starting=True)
    host = host or settings.host
    port = port or settings.port
    console.print(f"Fieldline on [bold]http://{host}:{port}[/bold]  (API docs: /docs), {workers} worker(s)")
    if settings.demo_mode:
        console.print(
            "demo logins (password [bold]demo[/bold]): agent@example.com, "
            "dispatcher@example.com, manager@example.com, admin@example.com, "
            "engineer1@example.com …"
        )
    try:
        server.run(host=host, port=port, workers=workers, log_level=settings.log_level)
    except OSError as exc:  # the port is taken, or the address is not ours
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _broker_or_fail() -> None:
    from app.platform.config import get_settings

    if not get_settings().celery_broker_url:
        _fail(
            "set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) first; without a broker "
            "`fieldline serve` runs background tasks in-process and needs no worker"
        )


@cli.command()
def worker(
    queues: str = typer.Option(None, "--queues", "-Q", help="default: every routed queue"),
    concurrency: int = typer.Option(None, min=1, max=MAX_PROCESSES, help="processes (default: CPU count)"),
    loglevel: str = typer.Option("info"),
) -> None:
    """Run a Celery worker (same as `celery -A app.worker worker -Q default,plans,urgent`)."""
    _broker_or_fail()
    _require_migrated(starting=True)
    from app.platform.worker import queues as all_queues
    from app.worker import celery_app  # the worker's composition root: installs the session hooks

    argv = ["worker", "-Q", queues or ",".join(all_queues()), "--loglevel", loglevel]
    if concurrency:
        argv += ["--concurrency", str(concurrency)]
    celery_app.worker_main(argv)


@cli.command()
def beat(
    schedule: str = typer.Option("var/celerybeat-schedule", help="beat's state file"),
    loglevel: str = typer.Option("info"),
) -> None:
    """Run the periodic scheduler (SLA checks, webhook retries, clean-up): exactly one per site."""
    _broker_or_fail()
    from pathlib import Path

    from app.worker import celery_app

    try:
        Path(schedule).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create the folder of {schedule}: {exc.strerror or exc}")
    celery_app.start(["beat", "--schedule", schedule, "--loglevel", loglevel])


IMPORT_PROGRESS_S = 2.0  # at most one progress line of `fieldline import` this often


class _ImportProgress:
    """``progress(done, total)`` of `fieldline import`: a line on stderr at most every
    IMPORT_PROGRESS_S, and one at the end of an import that printed any, as `python -m
    knowledge_base` does (stderr, TTY or not: stdout keeps only the report). A quick import says
    nothing."""

    def __init__(self, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self._what, self._printed, self._clock = what, False, clock
        self._started = self._last = clock()

    def __call__(self, done: int, total: int) -> None:
        now = self._clock()
        if now - self._last < IMPORT_PROGRESS_S and not (done >= total and self._printed):
            return
        self._last, self._printed, spent = now, True, now - self._started
        left = f", about {spent * (total - done) / done:.0f} s left" if 0 < done < total else ""
        print(
            f"fieldline import: {self._what}: {done}/{total} rows ({100 * done // max(total, 1)} %), "
            f"{spent:.1f} s so far{left}",
            file=sys.stderr,
            flush=True,
        )


@cli.command("import")
def import_csv(
    entity: str = typer.Argument(..., help="customers | sites | contacts | assets"),
    file: str = typer.Argument(..., help="CSV file (columns: docs/import.md)"),
) -> None:
    """Import CRM data from CSV (upsert by external_id); exits 1 if any row failed."""
    from rich.table import Table

    from app.integrations.crm_import.service import check_entity, import_csv
    from app.platform.db import unit_of_work
    from app.platform.errors import AppError

    path = _input_file(file)
    try:
        check_entity(entity)
        # Streamed from disk and committed in batches: an interrupted import keeps whole rows of
        # the batches it committed, and says which lines landed; a re-run finishes the job.
        with unit_of_work() as session, path.open("rb") as stream:
            progress = _ImportProgress(f"{entity} from {path.name}")
            report = import_csv(session, entity=entity, data=stream, source=path.name, progress=progress)
    except AppError as exc:  # unreadable file, unknown entity, import called off or interrupted
        _fail(exc.detail)
    except OSError as exc:  # e.g. no permission to read it
        _fail(f"cannot read {file}: {exc.strerror or exc}")
    except KeyboardInterrupt as exc:
        _fail(" ".join(["interrupted.", *getattr(exc, "__notes__", ["Nothing was imported."])]), code=130)
    counts = Table(title=f"{entity} from {path.name}")
    for name in ("rows", "created", "updated", "unchanged", "failed"):
        counts.add_column(name, justify="right")
    counts.add_row(*(str(getattr(report, n)) for n in ("rows", "created", "updated", "unchanged", "failed")))
    console.print(counts)
    if report.errors:
        errors = Table("line", "field", "problem", title="rows not imported")
        for err in report.errors[:200]:
            errors.add_row(str(err.line), err.field, err.message)
        console.print(errors)
        more = len(report.errors) - 200 + report.errors_omitted
        if more > 0:
            console.print(f"… and {more} more")
        raise typer.Exit(1)


kb = typer.Typer(
    help="Knowledge base: import and export articles as JSONL, re-detect languages.", no_args_is_help=True
)
cli.add_typer(kb, name="kb")


@kb.command("import")
def kb_import(
    file: str = typer.Argument(
        ..., help="JSONL: one article a line (id, title, body; docs/knowledge_base.md)"
    ),
    as_user: str = typer.Option(..., "--as", help="e-mail of the user the articles are written by"),
) -> None:
    """Upsert articles by their id (external id); a file with a bad line imports nothing (exit 1)."""
    from rich.table import Table

    from app.knowledge.articles import can_write
    from app.knowledge.index import process_cache
    from app.knowledge.jsonl import import_lines
    from app.platform.db import read_only_transactions, unit_of_work
    from app.platform.errors import AppError

    path = _input_file(file)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a leading byte-order mark (Windows tools) is no data
    except UnicodeDecodeError:
        _fail(f"{file} is not UTF-8 text")
        return
    except OSError as exc:  # e.g. no permission to read it
        _fail(f"cannot read {file}: {exc.strerror or exc}")
        return
    try:
        with unit_of_work() as session:
            try:
                actor = _user_by_email(session, as_user)
            except ValueError as exc:
                _fail(str(exc))
                return
            # the author the API would accept: an active account of a role that writes articles
            if not actor.is_active:
                _fail(f"{actor.email} is deactivated: the articles need an active author (--as)")
            if not can_write(actor):
                _fail(
                    f"{actor.email} has the role {actor.role}: only agents, managers and admins write "
                    "articles (--as)"
                )
            report = import_lines(session, text.splitlines(), actor=actor)
        # other processes load this instead of re-analysing; it reads only: no write lock
        with read_only_transactions(), unit_of_work() as session:
            process_cache().persist(session)
    except AppError as exc:
        errors = Table("line", "field", "problem", title="nothing imported: these lines are wrong")
        for err in (exc.errors or [])[:200]:
            errors.add_row(str(err.get("line", "")), str(err.get("field", "")), str(err.get("message", "")))
        if exc.errors:
            console.print(errors)
        _fail(exc.detail)
        return
    console.print(
        f"{report.lines} articles from {path.name}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged"
    )


@kb.command("export")
def kb_export(file: str = typer.Argument(..., help="JSONL file to write ('-' for stdout)")) -> None:
    """Write every article (any status) as one JSON line, in the format import reads."""
    from app.knowledge.jsonl import export_lines
    from app.platform.db import unit_of_work

    with unit_of_work() as session:
        lines = list(export_lines(session))
    text = "".join(line + "\n" for line in lines)
    if file == "-":
        _write_stdout(text)
        return
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:  # no such folder, a folder of that name, no permission
        _fail(f"cannot write {file}: {exc.strerror or exc}")
    console.print(f"{len(lines)} articles written to {file}")


def _write_stdout(text: str) -> None:
    """``text`` to stdout; a full disk or a closed pipe is one line on stderr and exit 1."""
    import contextlib
    import os

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # what is still buffered would fail again at exit, with a traceback; not a real file: tests
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _fail(f"cannot write to stdout: {exc.strerror or exc}")


@kb.command("redetect-languages")
def kb_redetect_languages(
    dry_run: bool = typer.Option(False, "--dry-run", help="only list what would change; write nothing"),
) -> None:
    """Give articles stored as English whose text is German, French, Spanish, Italian or Dutch that
    language (the rule and the history entry of migration 0026, which runs the same function)."""
    from alembic.script import ScriptDirectory

    from app.platform.db import unit_of_work
    from app.platform.migrations import alembic_config

    # The migration's own function, not a copy: what the upgrade did is what this does again (after
    # articles came in through an old import path, or with py3langid missing at the upgrade).
    script = ScriptDirectory.from_config(alembic_config()).get_revision("0026")
    assert script is not None
    migration = script.module
    after: int | None = 0
    changed = kept = read = 0
    plain: dict[str, Any] = {"markup": False, "highlight": False, "soft_wrap": True}
    while after is not None:
        # One transaction a batch: the app's writers wait for a batch at most, not for the whole run.
        with unit_of_work() as session:
            result = migration.redetect_languages(
                session.connection(), dry_run=dry_run, after_id=after, limit=migration.BATCH
            )
        for found in result.changed:
            # titles as typed: no markup ("[Kessel]"), one line each however long
            console.print(f"#{found.article_id} en → {found.language}: {found.title}", **plain)
        for found in result.kept_as_chosen:
            console.print(
                f"#{found.article_id} en kept (chosen in its history; reads as {found.language}): "
                f"{found.title}",
                **plain,
            )
        changed += len(result.changed)
        kept += len(result.kept_as_chosen)
        read += result.read
        after = result.next_after
    verb = "would change" if dry_run else "changed"
    console.print(f"{read} articles in English checked: {changed} {verb}, {kept} kept as chosen")


@cli.command("plan")
def plan_day(
    region: str = typer.Option(..., help="region code, e.g. MUC-N"),
    day: str = typer.Option(None, "--date", callback=_plan_date, help="YYYY-MM-DD (default: tomorrow there)"),
    time_limit: float = typer.Option(
        None,
        callback=_time_limit,
        help="seconds, at most 600 (default: PLAN_TIME_LIMIT_S, less for a small day)",
    ),
) -> None:
    """Plan a region's day in this process and publish it (the API does the same on workers)."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.hooks import install_domain_hooks
    from app.models import PlanRun, Region
    from app.planning import runs as plan_runs
    from app.planning.keys import local_day
    from app.platform.db import unit_of_work, utcnow
    from app.platform.errors import AppError

    install_domain_hooks()  # publishing the plan reserves parts, as it does on the workers

    try:
        with unit_of_work() as session:
            found = session.scalar(select(Region).where(Region.code == region))
            if found is None:
                _fail(f"no region with code {region!r}")
                return
            when = date.fromisoformat(day) if day else local_day(utcnow(), found.timezone) + timedelta(days=1)
            run_id = plan_runs.create_run(
                session, region_id=found.id, day=when, trigger="cli", time_limit_s=time_limit, send=False
            ).id
    except AppError as exc:  # create_run's own rules, in its words
        said = "; ".join(str(e.get("message", "")) for e in exc.errors or []) or exc.detail
        _fail(said)
    console.print(f"planning {region} for {when} (run {run_id}) …")
    status = plan_runs.execute(run_id)
    with unit_of_work() as session:
        run = session.get(PlanRun, run_id)
        assert run is not None
        console.print(f"{status}: {run.summary}  stats: {run.stats}")
        if run.error:
            _fail(run.error)


def main() -> None:
    from pydantic import ValidationError

    try:
        cli()
    except ValidationError as exc:  # the settings, read from the environment when a command starts
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}".removeprefix("settings: ")
            for e in exc.errors()
        )
        errors.print(f"[red]error:[/red] the configuration is not valid: {problems}")
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
