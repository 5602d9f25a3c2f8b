"""Test setup: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.

Each test runs inside one outer transaction that is rolled back at the end; sessions opened by the
app (requests, eager tasks) join it through savepoints, so tests never see each other's data.
Tests that cross processes (a real Celery worker, a browser) use `committed_db` instead.
"""

from __future__ import annotations

import atexit
import inspect
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Configure the app before it is imported anywhere.
_tmp = Path(tempfile.mkdtemp(prefix="fieldline-test-"))
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
# Under pytest-xdist (`make test` runs two processes) each process has its own database and
# broker db: on SQLite the temporary folder above, on PostgreSQL and Redis the numbered copies
# `tests/xdist.py` derives (the schema is dropped and rebuilt per session, queues are flushed).
from tests.xdist import per_worker_broker, per_worker_database  # noqa: E402

TEST_DATABASE_URL = (
    per_worker_database(os.environ.get("TEST_DATABASE_URL")) or f"sqlite:///{_tmp / 'test.db'}"
)
# Ordinary tests run tasks inline; tests that need a real worker use the broker explicitly.
# The name is moved aside, not dropped: xdist's processes start from this process's environment.
_broker = os.environ.pop("CELERY_BROKER_URL", None) or os.environ.get("FIELDLINE_TEST_BROKER_URL")
if _broker:
    os.environ["FIELDLINE_TEST_BROKER_URL"] = _broker
TEST_BROKER_URL = per_worker_broker(_broker)
os.environ["DATABASE_URL"] = TEST_DATABASE_URL
os.environ["SECRET_KEY"] = "test-secret"
os.environ["DEMO_MODE"] = "0"
os.environ["TASK_ALWAYS_EAGER"] = "1"
os.environ["SCHEDULER_ENABLED"] = "0"
# The webhook tests' receivers listen on 127.0.0.1, which webhooks refuse by default (SSRF):
# the suite opts in as an on-premise deployment would. The SSRF tests clear it again.
os.environ["WEBHOOK_ALLOWED_TARGETS"] = "127.0.0.1/32"
# The knowledge index is persisted per database token under here; the app's pages and API rank with
# BM25 only in tests (the encoder is the library's, tested in tests/knowledge_base).
os.environ["KB_INDEX_DIR"] = str(_tmp / "kb-index")
os.environ["KB_EMBEDDINGS"] = "0"

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.hooks import install_domain_hooks  # noqa: E402
from app.platform import db as app_db  # noqa: E402
from tests import factories  # noqa: E402

# The suite runs services directly as well as through the app: install what create_app installs.
install_domain_hooks()


def reset_schema(engine: Engine) -> None:
    from app.platform.migrations import upgrade_head

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with engine.begin() as conn:
        upgrade_head(conn)


@pytest.fixture(autouse=True)
def _no_index_files_outlive_a_test() -> Iterator[None]:
    """A rolled-back test still persists knowledge indexes (its savepoint "commit" runs the
    after-commit task) for versions the database then forgets, so the next test numbers its changes
    again. The stamp in a file's name keeps such a file from being loaded (as after a restored backup;
    tests/knowledge/test_kb_index_reload.py); removing them keeps each test's folder to its own."""
    yield
    shutil.rmtree(_tmp / "kb-index", ignore_errors=True)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    eng = app_db.get_engine()
    reset_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine, request: pytest.FixtureRequest) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    if conn.dialect.name == "sqlite" and not any(n.startswith("committed_") for n in request.fixturenames):
        # pysqlite opens no transaction for BEGIN, so a released savepoint would commit for real
        # and leak rows into later tests; a no-op write opens it now. Tests on committed data
        # (committed_db, committed_world) skip it: the write lock would block their own sessions.
        conn.exec_driver_sql("DELETE FROM region WHERE 0")
    app_db.SessionFactory.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield conn
    finally:
        # back to Session's own default (SQLAlchemy 2.1 renamed it "conditional_savepoint")
        default_mode = inspect.signature(Session).parameters["join_transaction_mode"].default
        app_db.SessionFactory.configure(bind=engine, join_transaction_mode=default_mode)
        outer.rollback()
        conn.close()


@pytest.fixture
def db(connection: Connection) -> Iterator[Session]:
    """A session inside the test's transaction; `commit()` only releases a savepoint."""
    session = app_db.SessionFactory()
    yield session
    session.close()


@pytest.fixture
def committed_db(engine: Engine) -> Iterator[Session]:
    """Real commits, visible to other processes; the test must clean up what it creates."""
    session = app_db.SessionFactory(bind=engine)
    yield session
    session.close()


@pytest.fixture
def client(connection: Connection) -> Iterator[TestClient]:
    from app.main import app

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def login(client: TestClient, db: Session):
    """login(role) -> headers with a bearer token for a fresh user of that role."""

    def _login(role: str = "agent", **kw: object) -> dict[str, str]:
        user = factories.make_user(db, role=role, **kw)
        db.commit()
        return factories.bearer(user)

    return _login
