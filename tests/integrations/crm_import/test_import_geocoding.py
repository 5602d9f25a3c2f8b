"""sites.csv rows without coordinates are geocoded from their address when a geocoder is
configured (docs/import.md "Coordinates"), against a local fake Nominatim (no internet): rows with
coordinates are not looked up, an unknown address or a geocoder that does not answer is the line's
error with nothing of it written, calls are spaced by GEOCODER_MIN_DELAY_S and bounded by
GEOCODER_IMPORT_BUDGET_S; with GEOCODER=none the coordinates stay required."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Site
from tests import factories as f
from tests.fake_geocoder import closed_port_url, fake_nominatim, use_geocoder

API = "/api/v1/imports/sites"
HQ = "Marienplatz 1, 80331 München"
DEPOT = "Hafenstraße 5, 20457 Hamburg"
HEADER = "external_id,account_external_id,name,address,latitude,longitude\n"


def post_csv(client: TestClient, headers: dict[str, str], text: str, status: int = 200) -> dict[str, Any]:
    r = client.post(API, headers={**headers, "Content-Type": "text/csv"}, content=text.encode())
    assert r.status_code == status, r.text
    return dict(r.json())


def sites(db: Session) -> dict[str, tuple[float, float]]:
    db.expire_all()
    return {s.external_id: (s.latitude, s.longitude) for s in db.scalars(select(Site)) if s.external_id}


def errors(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["line"], e["field"], e["message"]) for e in report["errors"]]


@pytest.fixture
def manager(client: TestClient, db: Session, login: Any) -> dict[str, str]:
    f.make_account(db, external_id="ERP-C1")
    db.commit()
    return dict(login("manager"))


def test_rows_without_coordinates_are_geocoded_the_others_not(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_nominatim({HQ: (48.1374, 11.5755), DEPOT: (53.5438, 9.9662)}) as geo:
        use_geocoder(monkeypatch, geo.url, geocoder_min_delay_s=0.3)
        report = post_csv(
            client,
            manager,
            HEADER
            + f'S1,ERP-C1,Given,"{HQ}",50.5,8.5\n'
            + f'S2,ERP-C1,Found,"{HQ}",,\n'
            + 'S3,ERP-C1,Lost,"Nowhere 1",,\n'
            + f'S4,ERP-C1,Half,"{DEPOT}",53.5,\n'
            + f'S5,ERP-C1,Depot,"{DEPOT}",,\n',
        )
        assert (report["created"], report["failed"]) == (3, 2)
        assert errors(report) == [
            (4, "address", "address not found by the geocoder"),
            (5, "longitude", "required with latitude"),
        ]
        assert sites(db) == {"S1": (50.5, 8.5), "S2": (48.1374, 11.5755), "S5": (53.5438, 9.9662)}
        assert geo.queries == [HQ, "Nowhere 1", DEPOT]  # rows with coordinates are not looked up
        gaps = [b - a for a, b in zip(geo.times, geo.times[1:], strict=False)]
        assert min(gaps) >= 0.25  # geopy's RateLimiter spaces the calls

        # a file without the coordinate columns: an unchanged address is not looked up again, a
        # new one is
        again = post_csv(
            client,
            manager,
            f'external_id,account_external_id,name,address\nS2,ERP-C1,Found,"{HQ}"\nS5,ERP-C1,Depot,"{HQ}"\n',
        )
        assert (again["unchanged"], again["updated"], again["failed"]) == (1, 1, 0)
        assert sites(db)["S5"] == (48.1374, 11.5755)
        assert geo.queries == [HQ, "Nowhere 1", DEPOT, HQ]


def test_a_geocoder_that_does_not_answer_fails_the_lines_that_need_it(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_geocoder(monkeypatch, closed_port_url())
    report = post_csv(
        client,
        manager,
        HEADER
        + f'S1,ERP-C1,Given,"{HQ}",50.5,8.5\nS2,ERP-C1,Down,"{HQ}",,\nS3,ERP-C1,Down too,"{DEPOT}",,\n',
    )
    assert (report["created"], report["failed"]) == (1, 2)
    assert [(line, field) for line, field, _ in errors(report)] == [(3, "address"), (4, "address")]
    assert all("the geocoder did not answer" in message for _, _, message in errors(report))
    assert sites(db) == {"S1": (50.5, 8.5)}  # nothing of a failed line


def test_geocoding_stops_when_the_import_spent_its_budget(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_nominatim({HQ: (48.1374, 11.5755)}) as geo:
        use_geocoder(monkeypatch, geo.url, geocoder_import_budget_s=0.0)
        report = post_csv(client, manager, HEADER + f'S1,ERP-C1,Found,"{HQ}",,\nS2,ERP-C1,Given,"{HQ}",1,2\n')
        assert report["created"] == 1 and report["errors"][0]["line"] == 2
        assert "GEOCODER_IMPORT_BUDGET_S" in report["errors"][0]["message"]
        assert geo.queries == []


def test_without_a_geocoder_coordinates_stay_required(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    report = post_csv(client, manager, HEADER + f'S1,ERP-C1,Found,"{HQ}",,\n')
    assert errors(report) == [(2, "latitude", "required"), (2, "longitude", "required")]
    r = client.post(
        API,
        headers={**manager, "Content-Type": "text/csv"},
        content=f'external_id,account_external_id,name,address\nS1,ERP-C1,Found,"{HQ}"\n'.encode(),
    )
    assert r.status_code == 422 and "missing required column(s) latitude, longitude" in r.json()["detail"]
