"""A database that does not answer is a 503 with Retry-After (a temporary condition), not a 500:
problem+json in the API, a readable page in the browser (the same refusal as a pool timeout)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.platform import deps, metrics
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
