"""A part's ETag never matches a later part that got a deleted one's id (SQLite reuses it)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PARTS = "/api/v1/parts"


def test_an_etag_never_matches_a_later_part_with_the_same_id(client: TestClient, login: Any) -> None:
    h = login("dispatcher")
    first = client.post(PARTS, json={"sku": "F-1", "name": "Filter", "unit_cost": "4"}, headers=h)
    gone_etag = first.headers["ETag"]
    assert client.delete(first.headers["Location"], headers={**h, "If-Match": gone_etag}).status_code == 204
    second = client.post(PARTS, json={"sku": "B-1", "name": "Belt", "unit_cost": "9.5"}, headers=h)
    url = second.headers["Location"]
    # On SQLite the new one gets the deleted one's id (and version 1 again); the old ETag is stale.
    for stale in (
        client.patch(url, json={"name": "Overwritten"}, headers={**h, "If-Match": gone_etag}),
        client.delete(url, headers={**h, "If-Match": gone_etag}),
    ):
        assert stale.status_code == 412, stale.text
        assert (
            stale.json()["current_etag"]
            == second.headers["ETag"]
            == client.get(url, headers=h).headers["ETag"]
        )
    assert client.get(url, headers=h).json()["name"] == "Belt"
    ok = client.patch(url, json={"name": "V-belt"}, headers={**h, "If-Match": second.headers["ETag"]})
    assert ok.status_code == 200 and ok.headers["ETag"] == client.get(url, headers=h).headers["ETag"]


def test_the_etag_is_the_same_for_a_price_as_typed_and_as_stored(client: TestClient, login: Any) -> None:
    h = login("dispatcher")
    created = client.post(PARTS, json={"sku": "S-1", "name": "Seal", "unit_cost": 12.5}, headers=h)
    assert created.headers["ETag"] == client.get(created.headers["Location"], headers=h).headers["ETag"]
