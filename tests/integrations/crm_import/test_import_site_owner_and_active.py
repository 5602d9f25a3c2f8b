"""The CSV import keeps a site with its customer, as the API does (docs/import.md "A site stays with
its customer"), and sets a contact's `active` flag from an optional column (deactivated, never
deleted: the history stays)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Contact, Site
from tests import factories as f
from tests.integrations.crm_import.test_import_moves import post_csv


def test_a_site_is_not_moved_to_another_customer_by_the_import(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    region = f.make_region(db)
    c1 = f.make_account(db, external_id="ERP-C1", region=region)
    f.make_account(db, external_id="ERP-C2", region=region)
    site = f.make_site(db, c1, external_id="ERP-S1", name="Hall 1")
    f.make_asset(db, site)
    db.commit()
    report = post_csv(
        client,
        manager,
        "sites",
        "external_id,account_external_id,name,latitude,longitude\n"
        "ERP-S1,ERP-C2,Hall 1 renamed,48.1,11.5\n"
        "ERP-S9,ERP-C2,New hall,48.2,11.6\n",
    )
    assert (report["created"], report["failed"]) == (1, 1)
    [error] = report["errors"]
    assert (error["line"], error["field"]) == (2, "account_external_id")
    assert "site ERP-S1 belongs to customer ERP-C1" in error["message"]
    assert "cannot move to another customer" in error["message"]
    db.expire_all()
    kept = db.get_one(Site, site.id)
    assert (kept.account_id, kept.name) == (c1.id, "Hall 1")  # nothing of the line landed
    # the same customer's row still updates the site
    same = post_csv(
        client,
        manager,
        "sites",
        "external_id,account_external_id,name,latitude,longitude\nERP-S1,ERP-C1,Hall 1 renamed,48.1,11.5\n",
    )
    assert (same["updated"], same["failed"]) == (1, 0)


def test_the_active_column_deactivates_and_reactivates_contacts(
    client: TestClient, db: Session, login: Any
) -> None:
    manager = login("manager")
    account = f.make_account(db, external_id="ERP-C1")
    called = f.make_contact(db, account, external_id="ERP-P1", name="Called Once")
    f.open_ticket(db, account, contact_id=called.id)
    f.make_contact(db, account, external_id="ERP-P2", name="Never Called")
    back = f.make_contact(db, account, external_id="ERP-P3", name="Came Back")
    back.active = False
    db.commit()
    header = "external_id,account_external_id,name,active\n"
    report = post_csv(
        client,
        manager,
        "contacts",
        header + "ERP-P1,ERP-C1,Called Once,no\n"
        "ERP-P2,ERP-C1,Never Called,FALSE\n"
        "ERP-P3,ERP-C1,Came Back,1\n"
        "ERP-P4,ERP-C1,Brand New,\n"
        "ERP-P5,ERP-C1,Typo,maybe\n",
    )
    assert (report["created"], report["updated"], report["failed"]) == (1, 3, 1)
    [error] = report["errors"]
    assert (error["line"], error["field"]) == (6, "active")
    assert "true or false" in error["message"]
    db.expire_all()
    by_ext = {c.external_id: c for c in db.query(Contact).where(Contact.account_id == account.id)}
    # deactivated, not deleted: with history or without
    assert (by_ext["ERP-P1"].active, by_ext["ERP-P2"].active) == (False, False)
    assert by_ext["ERP-P3"].active is True and by_ext["ERP-P4"].active is True
    assert "ERP-P5" not in by_ext
