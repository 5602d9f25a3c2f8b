"""PATCH /api/v1/tickets/{id}: the ticket's current contact sent back unchanged is accepted after a
CRM import moved that contact to another customer; only a change to such a contact is refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f

API = "/api/v1/tickets"


def test_the_current_contact_sent_back_unchanged_is_accepted_after_it_moved(
    client: TestClient, db: Session
) -> None:
    account, elsewhere = f.make_account(db), f.make_account(db)
    caller = f.make_contact(db, account)
    stranger = f.make_contact(db, elsewhere)
    ticket = f.open_ticket(db, account, contact_id=caller.id)
    caller.account_id = elsewhere.id  # the CRM import moved the caller to another account
    db.commit()
    headers = f.bearer(f.make_user(db))
    url = f"{API}/{ticket.id}"
    etag = client.get(url, headers=headers).headers["ETag"]

    # A client that PATCHes the whole record echoes the contact it read.
    ok = client.patch(
        url, json={"subject": "Boiler E42", "contact_id": caller.id}, headers={**headers, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["subject"] == "Boiler E42" and ok.json()["contact_id"] == caller.id

    # Choosing a contact of another customer is still refused, naming the field.
    bad = client.patch(
        url, json={"contact_id": stranger.id}, headers={**headers, "If-Match": ok.headers["ETag"]}
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["contact_id"]
