"""A part's price is answered as it is stored (NUMERIC(10,2)): the POST and PATCH answers equal
what a GET returns ("1E+2" came back as "1E+2" from the POST and as "100.00" from the GET). 0.00
is a legal price (a free part); -0.00 is 0.00, and anything below zero is refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Part

PARTS = "/api/v1/parts"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("1E+2", "100.00"),
        ("100", "100.00"),
        (12.5, "12.50"),
        ("0", "0.00"),
        ("-0.00", "0.00"),
        ("-0", "0.00"),
    ],
)
def test_the_create_answer_is_the_stored_price(
    client: TestClient, login: Any, sent: Any, stored: str
) -> None:
    h = login("dispatcher")
    r = client.post(PARTS, json={"sku": "P-1", "name": "Filter", "unit_cost": sent}, headers=h)
    assert r.status_code == 201, r.text
    assert r.json()["unit_cost"] == stored
    got = client.get(r.headers["Location"], headers=h)
    assert got.json() == r.json()


def test_the_update_answer_is_the_stored_price(client: TestClient, login: Any) -> None:
    h = login("dispatcher")
    created = client.post(PARTS, json={"sku": "P-2", "name": "Belt"}, headers=h)
    assert created.json()["unit_cost"] == "0.00"
    url, etag = created.headers["Location"], created.headers["ETag"]
    for sent, stored in (("2.5E+1", "25.00"), ("-0.00", "0.00"), ("7", "7.00")):
        r = client.patch(url, json={"unit_cost": sent}, headers={**h, "If-Match": etag})
        assert r.status_code == 200, r.text
        assert r.json()["unit_cost"] == stored
        assert client.get(url, headers=h).json() == r.json()
        etag = r.headers["ETag"]


def test_a_negative_price_is_refused(client: TestClient, db: Session, login: Any) -> None:
    h = login("dispatcher")
    for sent in ("-0.01", -1, "-1E+2"):
        r = client.post(PARTS, json={"sku": "P-3", "name": "Seal", "unit_cost": sent}, headers=h)
        assert r.status_code == 422, (sent, r.text)
        assert r.json()["errors"][0]["field"] == "unit_cost"
    assert db.scalar(select(func.count()).select_from(Part)) == 0
    created = client.post(PARTS, json={"sku": "P-3", "name": "Seal", "unit_cost": "3"}, headers=h)
    r = client.patch(
        created.headers["Location"],
        json={"unit_cost": "-5"},
        headers={**h, "If-Match": created.headers["ETag"]},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "unit_cost"
    assert client.get(created.headers["Location"], headers=h).json()["unit_cost"] == "3.00"


def test_an_idempotent_replay_answers_the_stored_price(client: TestClient, login: Any) -> None:
    h = {**login("dispatcher"), "Idempotency-Key": "price-1"}
    body = {"sku": "P-4", "name": "Valve", "unit_cost": "1E+2"}
    first = client.post(PARTS, json=body, headers=h)
    again = client.post(PARTS, json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again.json()["unit_cost"] == "100.00"
