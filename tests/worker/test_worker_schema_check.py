"""`celery -A app.worker worker` as docker-compose starts it (prefork, two processes) checks the
database's migration in its worker_init handler (app/worker.py), as `fieldline worker` does: on an
old schema it logs "worker not started: … run `fieldline migrate` first" and exits 2; on the latest
one it starts, and neither its parent nor its pool children hold a database connection or file
afterwards (the check's engine is not the app's pooled one, which the children would share).

These need no broker (the check runs before the worker connects): an in-memory one is enough. On
PostgreSQL (TEST_DATABASE_URL) the old database is a schema of its own in the test database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from app.platform.worker_launch import spawn_worker, stop_worker, wait_ready
from tests import procs
from tests.conftest import TEST_DATABASE_URL

COMPOSE_QUEUES = "default,plans,urgent"
EXIT_TIMEOUT_S = 90.0
OLD_SCHEMA = "fl_old_worker_schema"


def _env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "memory://",
        "SECRET_KEY": "test-secret",
        "TASK_ALWAYS_EAGER": "0",
        "SCHEDULER_ENABLED": "0",
        "DEMO_MODE": "0",
    }


def _run_to_exit(database_url: str, log: Path) -> tuple[int, str]:
    proc = spawn_worker("schema-check", COMPOSE_QUEUES, log, _env(database_url), concurrency=2)
    try:
        code = proc.wait(timeout=EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        stop_worker(proc)
        pytest.fail(f"the worker started on an old schema:\n{log.read_text(errors='replace')[-3000:]}")
    return code, log.read_text(errors="replace")


@pytest.fixture
def old_database(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The URL of a database at migration 0001 (only alembic_version: all the check reads)."""
    if engine.dialect.name != "postgresql":
        path = tmp_path / "var" / "old.db"
        path.parent.mkdir()
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
            connection.execute("INSERT INTO alembic_version VALUES ('0001')")
        yield f"sqlite:///{path}"
        return
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {OLD_SCHEMA}"))
        conn.execute(text(f"CREATE TABLE {OLD_SCHEMA}.alembic_version (version_num VARCHAR(32) PRIMARY KEY)"))
        conn.execute(text(f"INSERT INTO {OLD_SCHEMA}.alembic_version VALUES ('0001')"))
    url = make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={OLD_SCHEMA}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {OLD_SCHEMA} CASCADE"))


def test_a_compose_worker_exits_on_an_older_migration(old_database: str, tmp_path: Path) -> None:
    code, log = _run_to_exit(old_database, tmp_path / "worker.log")
    assert code == 2, log[-3000:]
    assert "worker not started: the database is at migration 0001, not the latest" in log
    assert "run `fieldline migrate` first" in log
    assert " ready." not in log


def test_a_compose_worker_exits_without_creating_a_missing_sqlite_file(tmp_path: Path) -> None:
    missing = tmp_path / "var" / "fieldline.db"
    code, log = _run_to_exit(f"sqlite:///{missing}", tmp_path / "worker.log")
    assert code == 2, log[-3000:]
    assert "worker not started: the database has no tables: run `fieldline migrate` first" in log
    assert not missing.parent.exists()


def test_a_compose_worker_starts_on_the_latest_migration_holding_no_connection(
    engine: Engine, tmp_path: Path
) -> None:
    """The session's database is at the latest migration (the `engine` fixture migrated it)."""
    log = tmp_path / "worker.log"
    proc = spawn_worker("schema-check", COMPOSE_QUEUES, log, _env(TEST_DATABASE_URL), concurrency=2)
    try:
        wait_ready(proc, log, EXIT_TIMEOUT_S)
        said = log.read_text(errors="replace")
        assert "worker not started" not in said and "cannot check" not in said, said[-3000:]
        pool = procs.children(proc.pid)
        assert len(pool) == 2, said[-3000:]
        held = {pid: database_handles(pid, TEST_DATABASE_URL) for pid in [proc.pid, *pool]}
        assert held == {pid: [] for pid in held}
    finally:
        stop_worker(proc)


def database_handles(pid: int, url: str) -> list[str]:
    """What process `pid` has open on the database: the SQLite file (or its -wal/-shm), or TCP
    sockets to the server's port."""
    parsed = make_url(url)
    fds = Path(f"/proc/{pid}/fd")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:  # closed meanwhile
            continue
    if parsed.get_backend_name() == "sqlite":
        return [t for t in targets if t.startswith(str(parsed.database))]
    sockets = {t[len("socket:[") : -1] for t in targets if t.startswith("socket:[")}
    port = f"{parsed.port or 5432:04X}"
    found = []
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, inode = fields[2], fields[9]
            if remote.rsplit(":", 1)[1] == port and inode in sockets:
                found.append(f"{table} {remote} inode {inode}")
    return found
