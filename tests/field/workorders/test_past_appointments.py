"""An appointment that is over already (January 2020 typed for 2026) is refused, naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.platform.db import utcnow
from tests import factories as f

API = "/api/v1/work-orders"
PAST = {
    "appointment_start_at": "2020-01-15T09:00:00+01:00",
    "appointment_end_at": "2020-01-15T11:00:00+01:00",
}


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region)
    site = f.make_site(db, acc, region=region)
    asset = f.make_asset(db, site)
    w = {"ticket": f.open_ticket(db, acc, asset=asset), "h": f.bearer(f.make_user(db, role="dispatcher"))}
    db.commit()
    return w


def test_creating_a_visit_in_2020_is_refused(client: TestClient, world: dict[str, Any]) -> None:
    r = client.post(API, json={"ticket_id": world["ticket"].id, **PAST}, headers=world["h"])
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    (error,) = r.json()["errors"]
    assert error["field"] == "appointment_start_at"
    assert "2020-01-15 09:00" in error["message"] and "in the past" in error["message"]


def test_moving_an_appointment_into_the_past_is_refused_keeping_the_rest(
    client: TestClient, world: dict[str, Any]
) -> None:
    now = utcnow().replace(microsecond=0)
    soon = {
        "appointment_start_at": (now + timedelta(days=2)).isoformat(),
        "appointment_end_at": (now + timedelta(days=2, hours=2)).isoformat(),
    }
    r = client.post(API, json={"ticket_id": world["ticket"].id, **soon}, headers=world["h"])
    assert r.status_code == 201, r.text
    wo = r.json()
    url = f"{API}/{wo['id']}"
    etag = client.get(url, headers=world["h"]).headers["ETag"]
    r = client.patch(url, json=PAST, headers={**world["h"], "If-Match": etag})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "appointment_start_at"
    # an edit that leaves the appointment alone saves, and the appointment is kept
    etag = client.get(url, headers=world["h"]).headers["ETag"]
    r = client.patch(url, json={"notes": "ring twice"}, headers={**world["h"], "If-Match": etag})
    assert r.status_code == 200, r.text
    start = datetime.fromisoformat(r.json()["appointment_start_at"]).astimezone(UTC)
    assert start == now + timedelta(days=2)
