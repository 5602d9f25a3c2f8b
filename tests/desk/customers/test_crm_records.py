"""The CRM record API: /api/v1/accounts, /contacts, /sites, /assets (docs/customers.md "CRM
records"): create, read with ETag, PATCH and DELETE with If-Match, roles, problem+json 422s naming
fields, 409 on a taken external id or serial, deletes that keep history, moves refused while open
tickets or work orders name the contact or asset, webhook events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Asset, Contact, Ticket, WebhookDelivery, WorkOrder
from app.platform.auth import issue_token
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.deps import SESSION_COOKIE
from tests import factories as f

V1 = "/api/v1"


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    return login("manager")


def etagged(r: Any, status: int = 200) -> tuple[dict[str, Any], str]:
    assert r.status_code == status, r.text
    return r.json(), r.headers["ETag"]


def fields_of(r: Any) -> dict[str, str]:
    assert r.headers["content-type"] == "application/problem+json", r.text
    return {e["field"]: e["message"] for e in r.json().get("errors") or []}


def test_an_account_is_created_read_changed_and_deleted(
    client: TestClient, db: Session, manager: dict[str, str], login: Any
) -> None:
    region = f.make_region(db, code="REC-N")
    db.commit()
    body = {"external_id": "ERP-C9", "name": "Bäckerei Sonne", "tier": "GOLD", "region_code": "REC-N"}
    keyed = {**manager, "Idempotency-Key": "acc-1"}
    created, tag = etagged(client.post(f"{V1}/accounts", json=body, headers=keyed), 201)
    assert (
        created["tier"] == "gold" and created["region_id"] == region.id and created["region_code"] == "REC-N"
    )
    replay = client.post(f"{V1}/accounts", json=body, headers=keyed)
    assert replay.json()["id"] == created["id"] and replay.headers["Idempotent-Replayed"] == "true"
    url = f"{V1}/accounts/{created['id']}"
    db.expire_all()
    assert db.get_one(Account, created["id"]).name_search == "backerei sonne"  # the search key follows

    read, read_tag = etagged(client.get(url, headers=manager))
    assert read == created and read_tag == tag
    # the same ETag as the 360° view, whose PATCH /customers/{id} sets owner and language
    assert client.get(f"{V1}/customers/{created['id']}/360", headers=manager).headers["ETag"] == tag

    assert client.patch(url, json={"name": "Sonne KG"}, headers=manager).status_code == 428
    changed, new_tag = etagged(
        client.patch(url, json={"name": "Sonne KG"}, headers={**manager, "If-Match": tag})
    )
    assert changed["name"] == "Sonne KG" and changed["version"] == 2 and new_tag != tag
    stale = client.patch(url, json={"segment": "retail"}, headers={**manager, "If-Match": tag})
    assert stale.status_code == 412
    nulls = client.patch(url, json={"name": None, "segment": None}, headers={**manager, "If-Match": new_tag})
    assert nulls.status_code == 422 and fields_of(nulls) == {
        "name": "cannot be null",
        "segment": "cannot be null",
    }
    tier = client.patch(url, json={"tier": "bronze"}, headers={**manager, "If-Match": new_tag})
    assert fields_of(tier) == {"tier": "unknown tier; use one of platinum, gold, silver, standard"}
    unknown = client.patch(url, json={"region_code": "NOPE"}, headers={**manager, "If-Match": new_tag})
    assert unknown.status_code == 422 and fields_of(unknown) == {"region_code": "unknown region 'NOPE'"}

    taken = client.post(f"{V1}/accounts", json={"external_id": "ERP-C9", "name": "Other"}, headers=manager)
    assert taken.status_code == 409 and fields_of(taken)["external_id"].startswith("already used by account")

    f.make_contact(db, db.get_one(Account, created["id"]))
    db.commit()
    refused = client.delete(url, headers={**manager, "If-Match": new_tag})
    assert refused.status_code == 409 and "1 contact" in refused.json()["detail"]
    assert refused.json()["references"] == {"contact": 1}
    empty, _ = etagged(client.post(f"{V1}/accounts", json={"name": "Mistake"}, headers=manager), 201)
    empty_url = f"{V1}/accounts/{empty['id']}"
    assert client.delete(empty_url, headers=manager).status_code == 428
    assert client.delete(empty_url, headers={**manager, "If-Match": '"v1"'}).status_code == 204
    assert client.get(empty_url, headers=manager).status_code == 404


def test_roles_on_the_record_api(client: TestClient, db: Session, login: Any) -> None:
    account = f.make_account(db)
    contact = f.make_contact(db, account)
    db.commit()
    agent, dispatcher, engineer = login("agent"), login("dispatcher"), login("engineer")
    # managers and admins write accounts, sites and assets
    assert client.post(f"{V1}/accounts", json={"name": "X"}, headers=agent).status_code == 403
    site = {"account_id": account.id, "name": "Plant", "latitude": 48.1, "longitude": 11.5}
    assert client.post(f"{V1}/sites", json=site, headers=dispatcher).status_code == 403
    # agents and dispatchers (desk roles: they attach held mail) add and change a caller;
    # engineers do not see the records
    new = {"account_id": account.id, "name": "Neu Anrufer"}
    assert client.post(f"{V1}/contacts", json=new, headers=agent).status_code == 201
    added = client.post(f"{V1}/contacts", json={**new, "name": "Neu Zwei"}, headers=dispatcher)
    assert added.status_code == 201, added.text
    renamed = client.patch(
        f"{V1}/contacts/{added.json()['id']}",
        json={"phone": "+49 89 123456"},
        headers={**dispatcher, "If-Match": added.headers["ETag"]},
    )
    assert renamed.status_code == 200 and renamed.json()["phone"] == "+49 89 123456", renamed.text
    d_tag = renamed.headers["ETag"]
    d_url = f"{V1}/contacts/{added.json()['id']}"
    assert client.delete(d_url, headers={**dispatcher, "If-Match": d_tag}).status_code == 403
    d_left = client.patch(d_url, json={"active": False}, headers={**dispatcher, "If-Match": d_tag})
    assert d_left.status_code == 403
    assert client.get(f"{V1}/contacts/{contact.id}", headers=dispatcher).status_code == 200
    assert client.get(f"{V1}/contacts/{contact.id}", headers=engineer).status_code == 403
    assert client.get(f"{V1}/accounts/{account.id}", headers=engineer).status_code == 403
    tag = client.get(f"{V1}/contacts/{contact.id}", headers=agent).headers["ETag"]
    # deleting, and marking as left by PATCH, are for managers and admins
    assert client.delete(f"{V1}/contacts/{contact.id}", headers={**agent, "If-Match": tag}).status_code == 403
    left = client.patch(
        f"{V1}/contacts/{contact.id}", json={"active": False}, headers={**agent, "If-Match": tag}
    )
    assert left.status_code == 403
    # the page cookie only reads
    user = f.make_user(db, role="manager")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    assert client.post(f"{V1}/accounts", json={"name": "X"}).status_code == 403


def test_a_contact_is_added_by_an_agent_found_by_phone_and_deactivated_when_it_has_tickets(
    client: TestClient, db: Session, manager: dict[str, str], login: Any
) -> None:
    account = f.make_account(db)
    db.commit()
    agent = login("agent")
    bad = client.post(
        f"{V1}/contacts",
        json={"account_id": account.id, "name": "", "email": "nope", "phone": "call me", "mobile": "12"},
        headers=agent,
    )
    assert bad.status_code == 422
    assert fields_of(bad) == {
        "name": "String should have at least 1 character",
        "email": "not an e-mail address",
        "phone": "not a phone number",
        "mobile": "not a phone number",
    }
    nobody = client.post(f"{V1}/contacts", json={"account_id": 999999, "name": "A"}, headers=agent)
    assert nobody.status_code == 422 and fields_of(nobody) == {"account_id": "customer 999999 does not exist"}

    body = {
        "account_id": account.id,
        "name": "Jürgen Wäscher",
        "email": "J.Waescher@Sonne.Example",
        "phone": "+49 89 7138-1100",
        "external_id": "ERP-P1",
    }
    created, tag = etagged(client.post(f"{V1}/contacts", json=body, headers=agent), 201)
    assert created["email"] == "j.waescher@sonne.example" and created["active"] is True
    found = client.get(f"{V1}/customers", params={"q": "089 71381100"}, headers=agent).json()["items"]
    assert [(h["account_id"], h["contact_id"]) for h in found] == [(account.id, created["id"])]
    taken = client.post(f"{V1}/contacts", json=body, headers=agent)
    assert taken.status_code == 409 and "external_id" in fields_of(taken)

    url = f"{V1}/contacts/{created['id']}"
    changed, tag = etagged(
        client.patch(url, json={"mobile": "0171 5550001"}, headers={**agent, "If-Match": tag})
    )
    assert changed["mobile"] == "0171 5550001" and changed["phone"] == "+49 89 7138-1100"
    ticket = f.open_ticket(db, account, contact_id=created["id"])
    db.commit()

    gone = client.delete(url, headers={**manager, "If-Match": tag})
    assert gone.status_code == 200, gone.text  # deactivated: the ticket still names who called
    assert gone.json()["active"] is False and gone.headers["ETag"] != tag
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).contact_id == created["id"]
    assert db.get_one(Contact, created["id"]).active is False
    # hidden from the caller search (by phone and by name) and from the 360° view's pickers
    assert client.get(f"{V1}/customers", params={"q": "089 71381100"}, headers=agent).json()["items"] == []
    by_name = client.get(f"{V1}/customers", params={"q": "Wäscher"}, headers=agent).json()["items"]
    assert all(h["contact_id"] != created["id"] for h in by_name)
    view = client.get(f"{V1}/customers/{account.id}/360", headers=agent).json()
    assert created["id"] not in [c["id"] for c in view["contacts"]]
    # no new ticket for someone who left; the old ticket still edits with them on it
    new_ticket = client.post(
        f"{V1}/tickets",
        json={
            "customer_id": account.id,
            "contact_id": created["id"],
            "subject": "x",
            "priority": "P3",
            "channel": "phone",
        },
        headers=agent,
    )
    assert new_ticket.status_code == 422 and fields_of(new_ticket)["contact_id"].endswith(
        "has left this customer"
    )
    # listed by the API, with those still there on request
    listed = client.get(f"{V1}/contacts", params={"account_id": account.id}, headers=agent).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]]
    assert (
        client.get(f"{V1}/contacts", params={"account_id": account.id, "active": True}, headers=agent).json()[
            "items"
        ]
        == []
    )

    # a contact without history is deleted
    spare, spare_tag = etagged(
        client.post(f"{V1}/contacts", json={"account_id": account.id, "name": "Kurz"}, headers=agent), 201
    )
    assert (
        client.delete(f"{V1}/contacts/{spare['id']}", headers={**manager, "If-Match": spare_tag}).status_code
        == 204
    )
    assert client.get(f"{V1}/contacts/{spare['id']}", headers=agent).status_code == 404


def test_the_ticket_page_marks_a_contact_who_left(client: TestClient, db: Session) -> None:
    account = f.make_account(db)
    gone = f.make_contact(db, account, name="Erika Gegangen")
    here = f.make_contact(db, account, name="Paul Hier")
    other = f.make_contact(db, account, name="Olga Auch Weg", active=False)
    ticket = f.open_ticket(db, account, contact_id=gone.id)
    gone.active = False  # she left after she called
    user = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200
    assert 'Erika Gegangen <span class="muted">(left the customer)</span>' in page.text
    assert "Erika Gegangen (left)</option>" in page.text and "Paul Hier</option>" in page.text
    assert other.name not in page.text  # one who left is no choice for this ticket
    assert here.active


def test_a_contact_does_not_move_to_another_customer_while_an_open_ticket_names_it(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    c1, c2 = f.make_account(db, external_id="ERP-C1"), f.make_account(db, external_id="ERP-C2")
    contact = f.make_contact(db, c1)
    ticket = f.open_ticket(db, c1, contact_id=contact.id)
    db.commit()
    url = f"{V1}/contacts/{contact.id}"
    _, tag = etagged(client.get(url, headers=manager))
    refused = client.patch(url, json={"account_id": c2.id}, headers={**manager, "If-Match": tag})
    assert refused.status_code == 409, refused.text
    assert f"ticket {ticket.number}" in refused.json()["detail"]
    assert refused.json()["open_cases"] == [f"ticket {ticket.number}"]
    assert fields_of(refused)["account_id"] == refused.json()["detail"]
    db.expire_all()
    assert db.get_one(Contact, contact.id).account_id == c1.id

    db.get_one(Ticket, ticket.id).status = "closed"  # closed history does not hold a move back
    db.commit()
    moved, _ = etagged(client.patch(url, json={"account_id": c2.id}, headers={**manager, "If-Match": tag}))
    assert moved["account_id"] == c2.id


def test_an_asset_does_not_move_to_another_customer_while_open_work_names_it(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    region = f.make_region(db)
    c1, c2 = f.make_account(db, region=region), f.make_account(db, region=region)
    site, other_site, foreign_site = f.make_site(db, c1), f.make_site(db, c1), f.make_site(db, c2)
    asset = f.make_asset(db, site, serial="ERP-A1")
    ticket = f.open_ticket(db, c1, asset=asset)
    order = f.make_work_order(db, ticket)
    db.commit()
    url = f"{V1}/assets/{asset.id}"
    _, tag = etagged(client.get(url, headers=manager))
    refused = client.patch(url, json={"site_id": foreign_site.id}, headers={**manager, "If-Match": tag})
    assert refused.status_code == 409, refused.text
    assert refused.json()["open_cases"] == [f"ticket {ticket.number}", f"work order {order.number}"]
    assert "site_id" in fields_of(refused)
    # another site of the same customer is no move to another customer
    same, tag = etagged(
        client.patch(url, json={"site_id": other_site.id}, headers={**manager, "If-Match": tag})
    )
    assert same["site_id"] == other_site.id and same["account_id"] == c1.id

    db.get_one(Ticket, ticket.id).status = "closed"
    db.get_one(WorkOrder, order.id).status = "cancelled"
    db.commit()
    moved, _ = etagged(
        client.patch(url, json={"site_id": foreign_site.id}, headers={**manager, "If-Match": tag})
    )
    assert (moved["site_id"], moved["account_id"]) == (foreign_site.id, c2.id)


def test_sites_and_assets_are_created_changed_and_deleted(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    region = f.make_region(db, code="REC-S")
    account, stranger = f.make_account(db, region=region), f.make_account(db)
    cal = f.make_calendar(db)
    contract = f.make_contract(db, account, cal, number="REC-C1")
    f.make_contract(db, stranger, cal, number="REC-C2")
    f.make_product_model(db, code="REC-PM")
    db.commit()
    far = client.post(
        f"{V1}/sites",
        json={"account_id": account.id, "name": "Pole", "latitude": 91, "longitude": 11},
        headers=manager,
    )
    assert far.status_code == 422 and set(fields_of(far)) == {"latitude"}
    body = {
        "account_id": account.id,
        "name": "Werk 2",
        "address": "Hauptstr. 1",
        "latitude": 48.2,
        "longitude": 11.6,
    }
    site, site_tag = etagged(client.post(f"{V1}/sites", json=body, headers=manager), 201)
    assert site["region_code"] == "REC-S"  # the customer's region, as in the import
    moved = client.patch(
        f"{V1}/sites/{site['id']}",
        json={"account_id": stranger.id},
        headers={**manager, "If-Match": site_tag},
    )
    assert moved.status_code == 422 and "account_id" in fields_of(moved)
    site, site_tag = etagged(
        client.patch(
            f"{V1}/sites/{site['id']}",
            json={"access_notes": "Tor 3"},
            headers={**manager, "If-Match": site_tag},
        )
    )

    bad = client.post(
        f"{V1}/assets",
        json={
            "serial": "REC-1",
            "site_id": site["id"],
            "product_model_code": "NOPE",
            "contract_number": "REC-C2",
            "install_date": "2025-01-01",
            "warranty_end": "2024-01-01",
        },
        headers=manager,
    )
    assert bad.status_code == 422
    assert fields_of(bad) == {
        "product_model_code": "unknown product model 'NOPE'",
        "contract_number": "belongs to another customer",
        "warranty_end": "before install_date",
    }
    body = {
        "serial": "REC-1",
        "site_id": site["id"],
        "product_model_code": "REC-PM",
        "contract_number": "REC-C1",
    }
    asset, asset_tag = etagged(client.post(f"{V1}/assets", json=body, headers=manager), 201)
    assert (asset["account_id"], asset["contract_id"], asset["product_model_code"]) == (
        account.id,
        contract.id,
        "REC-PM",
    )
    twin = client.post(f"{V1}/assets", json={**body, "contract_number": None}, headers=manager)
    assert twin.status_code == 409 and fields_of(twin)["serial"] == f"already used by asset {asset['id']}"
    page = client.get(f"{V1}/assets", params={"account_id": account.id, "limit": 1}, headers=manager).json()
    assert [a["id"] for a in page["items"]] == [asset["id"]] and page["next_cursor"] is None

    in_use = client.delete(f"{V1}/sites/{site['id']}", headers={**manager, "If-Match": site_tag})
    assert in_use.status_code == 409 and in_use.json()["references"] == {"asset": 1}
    f.open_ticket(db, account, asset=db.get_one(Asset, asset["id"]))
    db.commit()
    history = client.delete(f"{V1}/assets/{asset['id']}", headers={**manager, "If-Match": asset_tag})
    assert history.status_code == 409 and history.json()["references"] == {"ticket": 1}


def test_changes_become_webhook_events(
    client: TestClient, db: Session, manager: dict[str, str], login: Any
) -> None:
    f.make_webhook_subscription(
        db, "http://127.0.0.1:9/hook", events=["contact.created", "contact.deactivated"]
    )
    account = f.make_account(db)
    db.commit()
    created, tag = etagged(
        client.post(f"{V1}/contacts", json={"account_id": account.id, "name": "Neu"}, headers=manager), 201
    )
    f.open_ticket(db, account, contact_id=created["id"])
    db.commit()
    assert (
        client.delete(f"{V1}/contacts/{created['id']}", headers={**manager, "If-Match": tag}).status_code
        == 200
    )
    sent = db.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(d.event, d.payload["data"]["id"]) for d in sent] == [
        ("contact.created", created["id"]),
        ("contact.deactivated", created["id"]),
    ]
    assert sent[1].payload["data"]["changes"] == {"active": [True, False]}
    events = client.get(f"{V1}/webhooks/events", headers=login("admin"))
    assert {"customer.created", "contact.deleted", "site.updated", "asset.deleted"} <= set(events.json())


def test_a_resolved_ticket_that_can_be_reopened_holds_a_move_and_a_move_back_is_allowed(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    """A resolved ticket within its reopen window holds the contact and the asset (reopening it
    would name another customer's records); past the window it does not; moving a record back to
    the customer of the cases naming it is always allowed."""
    region = f.make_region(db)
    c1, c2 = f.make_account(db, region=region), f.make_account(db, region=region)
    site, foreign_site = f.make_site(db, c1), f.make_site(db, c2)
    contact, asset = f.make_contact(db, c1), f.make_asset(db, site, serial="ERP-R1")
    ticket = f.open_ticket(db, c1, asset=asset, contact_id=contact.id)
    ticket.status, ticket.resolved_at = "resolved", utcnow() - timedelta(days=1)
    db.commit()
    curl, aurl = f"{V1}/contacts/{contact.id}", f"{V1}/assets/{asset.id}"
    _, ctag = etagged(client.get(curl, headers=manager))
    _, atag = etagged(client.get(aurl, headers=manager))
    refused = client.patch(curl, json={"account_id": c2.id}, headers={**manager, "If-Match": ctag})
    assert refused.status_code == 409, refused.text
    assert refused.json()["open_cases"] == [f"ticket {ticket.number} (resolved)"]
    refused = client.patch(aurl, json={"site_id": foreign_site.id}, headers={**manager, "If-Match": atag})
    assert refused.status_code == 409, refused.text
    assert refused.json()["open_cases"] == [f"ticket {ticket.number} (resolved)"]

    # past the reopen window the resolved ticket is history: the moves go through
    db.get_one(Ticket, ticket.id).resolved_at = utcnow() - timedelta(days=get_settings().reopen_days + 1)
    db.commit()
    moved, ctag = etagged(
        client.patch(curl, json={"account_id": c2.id}, headers={**manager, "If-Match": ctag})
    )
    assert moved["account_id"] == c2.id
    moved, atag = etagged(
        client.patch(aurl, json={"site_id": foreign_site.id}, headers={**manager, "If-Match": atag})
    )
    assert moved["account_id"] == c2.id

    # the ticket was reopened meanwhile (a mismatch made before this rule): moving back mends it
    db.get_one(Ticket, ticket.id).status = "open"
    db.commit()
    back, _ = etagged(client.patch(curl, json={"account_id": c1.id}, headers={**manager, "If-Match": ctag}))
    assert back["account_id"] == c1.id
    back, _ = etagged(client.patch(aurl, json={"site_id": site.id}, headers={**manager, "If-Match": atag}))
    assert back["account_id"] == c1.id


def test_the_ticket_page_shows_an_asset_that_moved_to_another_customer(
    client: TestClient, db: Session
) -> None:
    region = f.make_region(db)
    c1, c2 = f.make_account(db, region=region), f.make_account(db, region=region, name="Neue Eigner GmbH")
    asset = f.make_asset(db, f.make_site(db, c1), serial="MOVED-77")
    ticket = f.open_ticket(db, c1, asset=asset)
    ticket.status, ticket.closed_at = "closed", utcnow() - timedelta(days=90)
    db.flush()
    asset.site_id, asset.account_id = f.make_site(db, c2).id, c2.id  # moved after the ticket ended
    user = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200
    assert 'MOVED-77 <span class="muted">(now at Neue Eigner GmbH)</span></dd>' in page.text
    # the edit form keeps it chosen, so saving another field does not clear it
    assert (
        f'<option value="{asset.id}" selected>' in page.text
        and "(now at Neue Eigner GmbH)</option>" in page.text
    )
