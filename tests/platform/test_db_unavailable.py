"""A database that does not answer is a 503 with Retry-After (a temporary condition), not a 500:
problem+json in the API, a readable page in the browser (the same refusal as a pool timeout)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from app.platform import deps, metrics
from app.platform.admission import missing_schema
from app.platform.deps import SESSION_COOKIE
from app.web import shared


def _unreachable(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


def test_an_unreachable_database_answers_503_with_retry_after(
    client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = login("agent")
    before = metrics.HTTP_SHED.labels("database_unavailable")._value.get()
    monkeypatch.setattr(deps, "user_from_token", _unreachable)
    r = client.get("/api/v1/tickets", headers=headers)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in r.json()["detail"]
    assert metrics.HTTP_SHED.labels("database_unavailable")._value.get() == before + 1


def test_a_page_gets_a_readable_503(client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    token = login("agent")["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token)
    monkeypatch.setattr(shared, "user_from_token", _unreachable)
    r = client.get("/desk/search", params={"q": "acme"})
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.headers["content-type"].startswith("text/html") and "database did not answer" in r.text


# --- a schema older than the code is not an outage ------------------------------------------------


def _no_such_table(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("SELECT * FROM account", {}, sqlite3.OperationalError("no such table: account"))


class _UndefinedColumn(Exception):
    """What psycopg raises for a column the database lacks (UndefinedColumn, SQLSTATE 42703)."""

    sqlstate = "42703"


def _no_such_column(*args: Any, **kwargs: Any) -> Any:
    raise ProgrammingError("SELECT", {}, _UndefinedColumn('column "language" does not exist'))


@pytest.mark.parametrize("fault", [_no_such_table, _no_such_column])
def test_a_schema_older_than_the_code_is_a_500_naming_migrate(
    fault: Callable[..., Any],
    client: TestClient,
    login: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deploy that skipped `fieldline migrate` answered 503 "retry in a few seconds": clients
    retried forever. It is a 500 that names the fix, and an ERROR line names what is missing."""
    headers = login("agent")
    monkeypatch.setattr(deps, "user_from_token", fault)
    with caplog.at_level(logging.ERROR, logger="app.platform.admission"):
        r = client.get("/api/v1/tickets", headers=headers)
    assert r.status_code == 500 and "retry-after" not in r.headers
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "an administrator must run `fieldline migrate`" in r.json()["detail"]
    missing = "no such table: account" if fault is _no_such_table else 'column "language" does not exist'
    assert any(rec.levelno == logging.ERROR and missing in rec.getMessage() for rec in caplog.records)


def test_a_page_on_an_old_schema_says_to_migrate(
    client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = login("agent")["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token)
    monkeypatch.setattr(shared, "user_from_token", _no_such_table)
    r = client.get("/desk/search", params={"q": "acme"})
    assert r.status_code == 500 and "retry-after" not in r.headers
    assert r.headers["content-type"].startswith("text/html") and "run `fieldline migrate`" in r.text


def test_other_programming_errors_stay_unexpected_errors(
    client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a missing table or column is the schema: any other ProgrammingError is a bug."""

    def syntax_error(*args: Any, **kwargs: Any) -> Any:
        raise ProgrammingError("SELEC", {}, sqlite3.ProgrammingError("syntax error"))

    headers = login("agent")
    monkeypatch.setattr(deps, "user_from_token", syntax_error)
    r = TestClient(client.app, raise_server_exceptions=False).get("/api/v1/tickets", headers=headers)
    assert r.status_code == 500 and "fieldline migrate" not in r.text
    assert r.json()["title"] == "Internal error"


@pytest.mark.parametrize(
    ("sql", "missing"),
    [
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT no_such_column FROM region", "no_such_column"),
    ],
)
def test_the_database_s_own_missing_table_and_column_errors_are_recognised(
    db: Session, sql: str, missing: str
) -> None:
    """The real driver's errors (sqlite3 here, psycopg's UndefinedTable/UndefinedColumn on
    PostgreSQL, which SQLAlchemy raises as ProgrammingError), not only the stand-ins above."""
    with pytest.raises(DBAPIError) as raised, db.begin_nested():
        db.execute(text(sql))
    found = missing_schema(raised.value)
    assert found is not None and missing in found
    assert missing_schema(OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))) is None
