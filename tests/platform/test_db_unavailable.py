"""A database that does not answer is a 503 with Retry-After (a temporary condition), not a 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.platform import deps


def test_an_unreachable_database_answers_503_with_retry_after(
    client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = login("agent")

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(deps, "user_from_token", unreachable)
    r = client.get("/api/v1/tickets", headers=headers)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "5"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in r.json()["detail"]
