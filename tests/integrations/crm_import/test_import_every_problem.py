"""Every problem of a row is listed at once: the reference checks (region, customer, site, product
model, contract, serial) run also on a row whose cells failed. Before, `QA-2,,diamond,NOPE,abc`
listed name, tier and arr, and `region_code: unknown region 'NOPE'` only on the next upload, after
the rest was fixed; the same short-circuit hid the references of sites, contacts and assets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Account, Asset, Contact, Site
from tests import factories as f
from tests.integrations.crm_import.test_import import count, imported


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    return login("manager")


def problems(report: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(e["line"], e["field"], e["message"]) for e in report["errors"]]


def test_a_customer_row_lists_its_unknown_region_with_its_cell_errors(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    f.make_region(db, code="QA-N")
    db.commit()
    rows = (
        "external_id,name,tier,region_code,arr,renewal_date\n"
        "QA-1,Fine GmbH,gold,QA-N,1000,2027-01-31\n"
        "QA-2,,diamond,NOPE,abc,2027-01-31\n"
        "QA-3,Only Region AG,gold,NOPE2,,\n"
    )
    report = imported(client, manager, "customers", rows)
    found = problems(report)
    assert [(line, field) for line, field, _ in found] == [
        (3, "name"),
        (3, "tier"),
        (3, "arr"),
        (3, "region_code"),
        (4, "region_code"),
    ]
    assert found[3][2] == "unknown region 'NOPE'"
    assert (report["created"], report["failed"]) == (1, 2)
    assert count(db, Account) == 1


def test_site_contact_and_asset_rows_list_their_references_with_their_cell_errors(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    account = f.make_account(db, external_id="QA-C")
    site = f.make_site(db, account, external_id="QA-S")
    f.make_product_model(db, code="QA-M")
    f.make_asset(db, site, serial="QA-SER-1")
    db.commit()
    before = count(db, Site), count(db, Contact), count(db, Asset)

    sites = imported(
        client,
        manager,
        "sites",
        "external_id,account_external_id,name,latitude,longitude,region_code\n"
        "QA-S2,NO-SUCH,,48.1,11.5,NOPE\n"
        "QA-S3,QA-C,Bad Latitude,north,11.5,\n",  # only its own error, not "required with longitude"
    )
    assert [(line, field) for line, field, _ in problems(sites)] == [
        (2, "name"),
        (2, "account_external_id"),
        (2, "region_code"),
        (3, "latitude"),
    ]

    contacts = imported(
        client,
        manager,
        "contacts",
        "external_id,account_external_id,name,email\nQA-P1,NO-SUCH,Anna,not-an-address\n",
    )
    assert [(line, field) for line, field, _ in problems(contacts)] == [
        (2, "email"),
        (2, "account_external_id"),
    ]

    assets = imported(
        client,
        manager,
        "assets",
        "external_id,serial,site_external_id,product_model_code,contract_number,install_date\n"
        "QA-A1,QA-SER-1,NO-SITE,NO-MODEL,NO-CONTRACT,2025-13-01\n",
    )
    assert [(line, field) for line, field, _ in problems(assets)] == [
        (2, "install_date"),
        (2, "serial"),
        (2, "site_external_id"),
        (2, "product_model_code"),
        (2, "contract_number"),
    ]
    assert (count(db, Site), count(db, Contact), count(db, Asset)) == before


def test_a_refused_row_keeps_no_serial_from_a_later_row_but_hears_of_an_earlier_one(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    """A row refused for its cells is not written: a later row may use its serial (as before);
    an earlier row holding its serial is now named with its other problems."""
    account = f.make_account(db, external_id="QA-C")
    f.make_site(db, account, external_id="QA-S")
    f.make_product_model(db, code="QA-M")
    db.commit()
    report = imported(
        client,
        manager,
        "assets",
        "external_id,serial,site_external_id,product_model_code,install_date\n"
        "QA-A1,SER-1,QA-S,QA-M,\n"
        "QA-A2,SER-1,QA-S,QA-M,someday\n"  # refused for its date; its serial is line 2's
        "QA-A3,SER-2,QA-S,QA-M,someday\n"  # refused: SER-2 stays free for line 5
        "QA-A4,SER-2,QA-S,QA-M,\n",
    )
    assert problems(report) == [
        (3, "install_date", "not a date (YYYY-MM-DD or DD.MM.YYYY)"),
        (3, "serial", "duplicate of line 2"),
        (4, "install_date", "not a date (YYYY-MM-DD or DD.MM.YYYY)"),
    ]
    assert report["created"] == 2
