"""A date-time without a UTC offset in a query is a 422 naming the parameter, never a 500.

The QA report: `?sla_due_before=2026-12-10T00:00:00` (or `2026-12-10`) on the tickets and
`?from=2026-12-10` / `?to=2026-12-10T08:00` on an engineer's on-call list reached the database
layer's check ("naive datetime given") as a 500. One rule in app/platform/inputs.py refuses them.
"""

from __future__ import annotations

from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.platform.inputs import NEEDS_OFFSET, InputModel
from tests import factories as f

NAIVE = ["2026-12-10T00:00:00", "2026-12-10", "2026-12-10T08:00", "2026-12-10 08:00"]


def _refused(r: httpx.Response, field: str) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = r.json()["errors"]
    assert [e["field"] for e in errors] == [field], errors
    assert "UTC offset" in errors[0]["message"] and "2026-12-10T00:00:00Z" in errors[0]["message"]
    return str(errors[0]["message"])


@pytest.mark.parametrize("value", NAIVE)
def test_tickets_sla_due_before_needs_an_offset(client: TestClient, db: Session, value: str) -> None:
    headers = f.bearer(f.make_user(db))
    _refused(
        client.get("/api/v1/tickets", params={"sla_due_before": value}, headers=headers), "sla_due_before"
    )
    for aware in ("2026-12-10T00:00:00Z", "2026-12-10T08:00+01:00"):
        ok = client.get("/api/v1/tickets", params={"sla_due_before": aware}, headers=headers)
        assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("value", NAIVE)
@pytest.mark.parametrize("name", ["from", "to"])
def test_on_call_from_and_to_need_an_offset(client: TestClient, db: Session, name: str, value: str) -> None:
    engineer = f.make_engineer(db, f.make_region(db))
    headers = f.bearer(f.make_user(db, role="dispatcher"))
    url = f"/api/v1/engineers/{engineer.id}/on-call"
    _refused(client.get(url, params={name: value}, headers=headers), name)
    assert client.get(url, params={name: "2026-12-10T08:00:00Z"}, headers=headers).status_code == 200


def test_a_date_alone_is_told_it_is_not_a_date_time(client: TestClient, db: Session) -> None:
    r = client.get(
        "/api/v1/tickets", params={"sla_due_before": "2026-12-10"}, headers=f.bearer(f.make_user(db))
    )
    assert "not a date alone" in _refused(r, "sla_due_before")


def test_the_openapi_still_describes_the_parameters(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    tickets = {p["name"]: p for p in spec["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    on_call = {
        p["name"]: p for p in spec["paths"]["/api/v1/engineers/{engineer_id}/on-call"]["get"]["parameters"]
    }
    for param in (tickets["sla_due_before"], on_call["from"], on_call["to"]):
        assert param["in"] == "query"
        assert {"type": "string", "format": "date-time"} in param["schema"]["anyOf"], param


class _Body(InputModel):
    at: datetime


def test_a_body_datetime_declared_plainly_is_held_to_the_same_rule() -> None:
    """No body field is a plain `datetime` today (all are AwareDatetime); one added later is
    refused alike instead of reaching the database as a 500."""
    with pytest.raises(ValueError, match=NEEDS_OFFSET):
        _Body.model_validate({"at": "2026-12-10T08:00:00"})
    assert _Body.model_validate({"at": "2026-12-10T08:00:00Z"}).at.tzinfo is not None
