"""A CSV upsert that moves a contact or an asset to another customer while an open ticket or work
order names it is a line error, and nothing of that line is written (docs/import.md); a move with
only closed history goes through, as before."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Asset, Contact, Ticket, WorkOrder
from app.platform.db import utcnow
from tests import factories as f

API = "/api/v1/imports"


def post_csv(client: TestClient, headers: dict[str, str], entity: str, text: str) -> dict[str, Any]:
    r = client.post(f"{API}/{entity}", headers={**headers, "Content-Type": "text/csv"}, content=text.encode())
    assert r.status_code == 200, r.text
    return r.json()


def test_a_contact_named_by_an_open_ticket_is_not_moved_by_the_import(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    c1, c2 = f.make_account(db, external_id="ERP-C1"), f.make_account(db, external_id="ERP-C2")
    held = f.make_contact(db, c1, external_id="ERP-P607", name="Held Fast")
    free = f.make_contact(db, c1, external_id="ERP-P608", name="Free Mover")
    ticket = f.open_ticket(db, c1, contact_id=held.id)
    done = f.open_ticket(db, c1, contact_id=free.id)
    done.status = "closed"
    db.commit()
    report = post_csv(
        client,
        manager,
        "contacts",
        "external_id,account_external_id,name,email\n"
        "ERP-P607,ERP-C2,Held Renamed,held@c2.example\n"
        "ERP-P608,ERP-C2,Free Mover,\n",
    )
    assert (report["updated"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert (error["line"], error["field"]) == (2, "account_external_id")
    assert (
        f"ticket {ticket.number}" in error["message"]
        and "cannot move to another customer" in error["message"]
    )
    db.expire_all()
    kept = db.get_one(Contact, held.id)
    # nothing of the refused line landed: not the move, not the new name or e-mail
    assert (kept.account_id, kept.name, kept.email) == (c1.id, "Held Fast", held.email)
    assert db.get_one(Contact, free.id).account_id == c2.id
    assert db.get_one(Ticket, ticket.id).account_id == c1.id


def test_an_asset_at_an_open_work_order_is_not_moved_to_another_customers_site(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    region = f.make_region(db)
    c1, c2 = f.make_account(db, region=region), f.make_account(db, region=region)
    old_site = f.make_site(db, c1, external_id="ERP-S1")
    f.make_site(db, c1, external_id="ERP-S1B")
    f.make_site(db, c2, external_id="ERP-S2")
    model = f.make_product_model(db, code="ERP-PM")
    asset = f.make_asset(db, old_site, product_model=model, external_id="ERP-A1", serial="SER-A1")
    ticket = f.open_ticket(db, c1, asset=asset)
    order = f.make_work_order(db, ticket)
    db.commit()
    header = "external_id,serial,site_external_id,product_model_code\n"
    report = post_csv(client, manager, "assets", header + "ERP-A1,SER-A1,ERP-S2,ERP-PM\n")
    assert report["failed"] == 1 and report["errors"][0]["field"] == "site_external_id"
    assert f"work order {order.number}" in report["errors"][0]["message"]
    db.expire_all()
    assert (db.get_one(Asset, asset.id).site_id, db.get_one(Asset, asset.id).account_id) == (
        old_site.id,
        c1.id,
    )
    # a site of the same customer is no move to another customer
    assert post_csv(client, manager, "assets", header + "ERP-A1,SER-A1,ERP-S1B,ERP-PM\n")["updated"] == 1

    db.get_one(Ticket, ticket.id).status = "closed"
    db.get_one(WorkOrder, order.id).status = "done"
    db.commit()
    assert post_csv(client, manager, "assets", header + "ERP-A1,SER-A1,ERP-S2,ERP-PM\n")["updated"] == 1
    db.expire_all()
    assert db.get_one(Asset, asset.id).account_id == c2.id


def test_the_import_counts_reopenable_tickets_and_lets_a_record_move_back(
    client: TestClient, db: Session, login: Any
) -> None:
    """As the API: a resolved ticket still in its reopen window holds the contact; a line that
    moves a contact back to the customer of the ticket naming it goes through."""
    manager = login("manager")
    c1, c2 = f.make_account(db, external_id="ERP-C1"), f.make_account(db, external_id="ERP-C2")
    held = f.make_contact(db, c1, external_id="ERP-P701", name="Held By Resolved")
    strayed = f.make_contact(db, c1, external_id="ERP-P702", name="Strayed")
    resolved = f.open_ticket(db, c1, contact_id=held.id)
    resolved.status, resolved.resolved_at = "resolved", utcnow() - timedelta(days=1)
    f.open_ticket(db, c1, contact_id=strayed.id)
    strayed.account_id = c2.id  # moved before this rule: c1's open ticket names c2's contact
    db.commit()
    report = post_csv(
        client,
        manager,
        "contacts",
        "external_id,account_external_id,name,email\n"
        "ERP-P701,ERP-C2,Held By Resolved,\n"
        "ERP-P702,ERP-C1,Strayed,\n",
    )
    assert (report["updated"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert error["line"] == 2 and f"ticket {resolved.number} (resolved)" in error["message"]
    db.expire_all()
    assert db.get_one(Contact, held.id).account_id == c1.id
    assert db.get_one(Contact, strayed.id).account_id == c1.id  # moved back
