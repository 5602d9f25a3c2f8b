"""Sites written through the API without coordinates are geocoded from their address when a
geocoder is configured (docs/customers.md "Geocoding"), against a local fake Nominatim (no
internet): coordinates sent win, an unknown address is a 422 naming `address`, a geocoder that
does not answer a 503 with Retry-After, and with GEOCODER=none coordinates stay required."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Site
from tests import factories as f
from tests.fake_geocoder import closed_port_url, fake_nominatim, use_geocoder

V1 = "/api/v1"
HQ = "Marienplatz 1, 80331 München"
DEPOT = "Hafenstraße 5, 20457 Hamburg"


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    return login("manager")


def _site(db: Session, **body: Any) -> dict[str, Any]:
    region = f.make_region(db)
    account = f.make_account(db, region=region)
    db.commit()
    return {"account_id": account.id, "name": "HQ", **body}


def _errors(r: Any) -> dict[str, str]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return {e["field"]: e["message"] for e in r.json().get("errors") or []}


def test_a_site_without_coordinates_is_geocoded_and_coordinates_sent_win(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_nominatim({HQ: (48.1374, 11.5755), DEPOT: (53.5438, 9.9662)}) as geo:
        use_geocoder(monkeypatch, geo.url, geocoder_user_agent="fieldline-test/1")
        r = client.post(f"{V1}/sites", json=_site(db, address=HQ), headers=manager)
        assert r.status_code == 201, r.text
        made = r.json()
        assert (made["latitude"], made["longitude"]) == (48.1374, 11.5755)
        assert geo.queries == [HQ] and geo.user_agents == ["fieldline-test/1"]

        explicit = _site(db, external_id="S-2", address=HQ, latitude=50.0, longitude=8.0)
        r2 = client.post(f"{V1}/sites", json=explicit, headers=manager)
        assert r2.status_code == 201 and (r2.json()["latitude"], r2.json()["longitude"]) == (50.0, 8.0)
        assert geo.queries == [HQ]  # not looked up

        # a new address without coordinates moves the site; with coordinates those win
        url = f"{V1}/sites/{made['id']}"
        moved = client.patch(url, json={"address": DEPOT}, headers={**manager, "If-Match": r.headers["ETag"]})
        assert moved.status_code == 200, moved.text
        assert (moved.json()["latitude"], moved.json()["longitude"]) == (53.5438, 9.9662)
        back = client.patch(
            url,
            json={"address": HQ, "latitude": 48.0, "longitude": 11.0},
            headers={**manager, "If-Match": moved.headers["ETag"]},
        )
        assert (back.json()["latitude"], back.json()["longitude"]) == (48.0, 11.0)
        assert geo.queries == [HQ, DEPOT]

        one = client.post(f"{V1}/sites", json=_site(db, address=HQ, latitude=48.0), headers=manager)
        assert one.status_code == 422 and _errors(one) == {"longitude": "required with latitude"}


def test_an_unknown_address_is_a_422_naming_it(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_nominatim({}) as geo:
        use_geocoder(monkeypatch, geo.url)
        before = db.scalar(select(func.count()).select_from(Site))
        r = client.post(f"{V1}/sites", json=_site(db, address="Nowhere 1"), headers=manager)
        assert r.status_code == 422 and _errors(r) == {"address": "address not found by the geocoder"}
        empty = client.post(f"{V1}/sites", json=_site(db), headers=manager)
        assert empty.status_code == 422 and set(_errors(empty)) == {"address"}
        assert db.scalar(select(func.count()).select_from(Site)) == before
        assert geo.queries == ["Nowhere 1"]


def test_a_geocoder_that_does_not_answer_is_a_503_with_retry_after(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_geocoder(monkeypatch, closed_port_url())
    body = _site(db, address=HQ)
    r = client.post(f"{V1}/sites", json=body, headers={**manager, "Idempotency-Key": "geo-1"})
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.headers["Retry-After"] == "60"
    assert "latitude and longitude" in r.json()["detail"]
    # nothing was stored under the key: the same request succeeds once the geocoder is back
    with fake_nominatim({HQ: (48.1374, 11.5755)}) as geo:
        use_geocoder(monkeypatch, geo.url)
        again = client.post(f"{V1}/sites", json=body, headers={**manager, "Idempotency-Key": "geo-1"})
        assert again.status_code == 201 and again.json()["latitude"] == 48.1374, again.text
    # coordinates sent need no geocoder
    ok = client.post(
        f"{V1}/sites", json=_site(db, address=HQ, latitude=48.1, longitude=11.5), headers=manager
    )
    assert ok.status_code == 201, ok.text


def test_without_a_geocoder_coordinates_stay_required(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    r = client.post(f"{V1}/sites", json=_site(db, address=HQ), headers=manager)
    assert r.status_code == 422 and set(_errors(r)) == {"latitude", "longitude"}
    made = client.post(
        f"{V1}/sites", json=_site(db, address=HQ, latitude=48.1, longitude=11.5), headers=manager
    )
    assert made.status_code == 201
    # a new address keeps the coordinates, as before geocoding existed
    moved = client.patch(
        f"{V1}/sites/{made.json()['id']}",
        json={"address": DEPOT},
        headers={**manager, "If-Match": made.headers["ETag"]},
    )
    assert moved.status_code == 200 and moved.json()["latitude"] == 48.1
