"""PATCH /api/v1/tickets/{id}: the ticket's current asset sent back unchanged is accepted after it
moved to another customer's site (open cases hold a move, closed ones do not; a direct write
stands in for it here); the ticket keeps its site. Only a change to such an asset is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket
from tests import factories as f

API = "/api/v1/tickets"


def test_the_current_asset_sent_back_unchanged_is_accepted_after_it_moved(
    client: TestClient, db: Session
) -> None:
    region = f.make_region(db)
    account, elsewhere = f.make_account(db, region=region), f.make_account(db, region=region)
    site, other_site = f.make_site(db, account), f.make_site(db, elsewhere)
    asset = f.make_asset(db, site)
    stranger = f.make_asset(db, other_site)
    ticket = f.open_ticket(db, account, asset=asset)
    asset.site_id, asset.account_id = other_site.id, elsewhere.id  # moved to another customer
    db.commit()
    headers = f.bearer(f.make_user(db))
    url = f"{API}/{ticket.id}"
    etag = client.get(url, headers=headers).headers["ETag"]

    # A client that PATCHes the whole record echoes the asset it read.
    ok = client.patch(
        url, json={"subject": "Boiler E42", "asset_id": asset.id}, headers={**headers, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["subject"] == "Boiler E42" and ok.json()["asset_id"] == asset.id
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).site_id == site.id  # not the other customer's site

    # Choosing an asset of another customer is still refused, naming the field.
    bad = client.patch(
        url, json={"asset_id": stranger.id}, headers={**headers, "If-Match": ok.headers["ETag"]}
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["asset_id"]
