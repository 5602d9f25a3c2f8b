"""SLA entitlement without an asset: the account's contract, not Standard; the agent is prompted
to pick the asset (docs/tickets.md "SLA entitlement")."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import SlaTarget
from tests import factories as f

API = "/api/v1/tickets"
TARGETS = {  # minutes: first response, arrival, resolution
    "platinum": (15, 240, 480),
    "gold": (30, 240, 600),
    "standard": (120, 960, 1440),
}


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    for tier, (fr, arr, res) in TARGETS.items():
        db.add(
            SlaTarget(tier=tier, priority="P1", first_response_min=fr, arrival_min=arr, resolution_min=res)
        )
    acc = f.make_account(db)
    site = f.make_site(db, acc)
    always = f.make_calendar(db, always_open=True)
    office = f.make_calendar(db)
    today = date.today()
    # gold first (lower id): the choice must be by targets, not by order
    gold = f.make_contract(db, acc, office, tier="gold")
    platinum = f.make_contract(db, acc, always, tier="platinum")
    f.make_contract(  # a better tier that has ended: not valid on the opening day
        db,
        acc,
        always,
        tier="platinum",
        starts_on=today - timedelta(days=400),
        ends_on=today - timedelta(days=1),
    )
    gold_asset = f.make_asset(db, site, contract=gold)
    bare = f.make_account(db)
    f.make_asset(db, f.make_site(db, bare))
    db.commit()
    return {"account": acc, "gold": gold, "platinum": platinum, "gold_asset": gold_asset, "bare": bare}


def test_no_asset_takes_the_best_contract_valid_on_the_opening_day(
    client: TestClient, login, world: dict[str, Any]
) -> None:
    """Failed before: a Platinum account's ticket without an asset got the Standard SLA."""
    h = login("agent")
    body = {"customer_id": world["account"].id, "subject": "Plant down", "priority": "P1", "channel": "phone"}
    r = client.post(API, json=body, headers=h)
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["sla_tier"], t["sla_contract_id"]) == ("platinum", world["platinum"].id)
    assert t["sla_calendar_id"] == world["platinum"].calendar_id
    assert t["needs_asset"] is True  # prompt the agent to pick the machine
    sla = client.get(f"{API}/{t['id']}/sla", headers=h).json()
    assert {m["metric"]: m["target_minutes"] for m in sla["metrics"]}["first_response"] == 15

    # picking the asset: its own contract (gold) decides from now on, the prompt goes away
    etag = client.get(f"{API}/{t['id']}", headers=h).headers["ETag"]
    r = client.patch(
        f"{API}/{t['id']}", json={"asset_id": world["gold_asset"].id}, headers={**h, "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["sla_tier"], r.json()["needs_asset"]) == ("gold", False)


def test_an_account_without_a_valid_contract_stays_standard(client: TestClient, login, world) -> None:
    h = login("agent")
    body = {"customer_id": world["bare"].id, "subject": "Noise", "priority": "P1", "channel": "email"}
    t = client.post(API, json=body, headers=h).json()
    assert (t["sla_tier"], t["sla_contract_id"], t["needs_asset"]) == ("standard", None, True)
    listed = client.get(API, params={"customer_id": world["bare"].id}, headers=h).json()["items"]
    assert [i["needs_asset"] for i in listed] == [True]
