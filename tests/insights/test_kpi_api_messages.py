"""The API's refusals name its parameters: `to` must not be before `from` (the message read
"must not be before “From”", the dashboard's label). The dashboard keeps its labels:
tests/web/test_insights_pages.py holds "must not be before “From”" on the page."""

from __future__ import annotations

from fastapi.testclient import TestClient

BACKWARDS = {"from": "2026-03-15", "to": "2026-03-01"}


def test_the_api_names_its_parameters(client: TestClient, login) -> None:
    r = client.get("/api/v1/kpis", params=BACKWARDS, headers=login("manager"))
    assert r.status_code == 422, r.text
    (error,) = [e for e in r.json()["errors"] if e["field"] == "to"]
    assert error["message"] == "must not be before `from`"
    assert "to: must not be before `from`" in r.json()["detail"]
    assert "“" not in r.text  # no page label anywhere in the answer
