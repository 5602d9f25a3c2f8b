"""CRM CSV import: linked files, upsert on re-import, bad rows by line with nothing written for them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.models import Account, Asset, Contact, Site, WebhookDelivery
from tests import factories as f

API = "/api/v1/imports"

CUSTOMERS = """external_id,name,tier,segment,region_code,arr,renewal_date
CRM-1,Huber Kältetechnik GmbH,gold,manufacturing,IMP-N,120000.50,2027-03-31
CRM-2,"Bäckerei Sonne, Filiale Nord",standard,retail,,,
"""
SITES = """external_id,account_external_id,name,address,latitude,longitude,access_notes
S-1,CRM-1,Werk Freimann,"Freisinger Landstr. 50, 80939 München",48.2010,11.6070,"Tor 3, Pförtner anrufen"
S-2,CRM-2,Filiale Nord,"Leopoldstr. 112, 80802 München",48.1650,11.5860,
"""
CONTACTS = """external_id,account_external_id,name,email,phone,mobile
P-1,CRM-1,Anna Huber,Anna.Huber@Huber.example,+49 89 1234-5678,0171 9876543
P-2,CRM-2,Max Sonne,,089/99887766,
"""
ASSETS = """external_id,serial,site_external_id,product_model_code,contract_number,install_date,warranty_end
A-1,CH-0001,S-1,IMP-CHILLER,IMP-C-1,2024-05-01,2026-05-01
A-2,OV-0002,S-2,IMP-OVEN,,01.02.2023,
"""


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    return login("manager")


@pytest.fixture
def catalogue(db: Session) -> dict[str, Any]:
    region = f.make_region(db, code="IMP-N")
    f.make_product_model(db, code="IMP-CHILLER")
    f.make_product_model(db, code="IMP-OVEN")
    db.commit()
    return {"region": region}


def post_csv(
    client: TestClient, headers: dict[str, str], entity: str, text: str, *, multipart: bool = False
) -> Any:
    if multipart:
        return client.post(
            f"{API}/{entity}", headers=headers, files={"file": (f"{entity}.csv", text.encode(), "text/csv")}
        )
    return client.post(
        f"{API}/{entity}", headers={**headers, "Content-Type": "text/csv"}, content=text.encode()
    )


def imported(
    client: TestClient, headers: dict[str, str], entity: str, text: str, **kw: Any
) -> dict[str, Any]:
    r = post_csv(client, headers, entity, text, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def count(db: Session, model: Any) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def import_all(client: TestClient, headers: dict[str, str], db: Session) -> None:
    cal = f.make_calendar(db)
    assert imported(client, headers, "customers", CUSTOMERS, multipart=True)["created"] == 2
    acc = db.scalars(select(Account).where(Account.external_id == "CRM-1")).one()
    f.make_contract(db, acc, cal, number="IMP-C-1")
    db.commit()
    for entity, text in (("sites", SITES), ("contacts", CONTACTS), ("assets", ASSETS)):
        report = imported(client, headers, entity, text)
        assert (report["created"], report["failed"], report["errors"]) == (2, 0, []), report


def test_import_happy_path_links_everything(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any], login: Any
) -> None:
    import_all(client, manager, db)
    acc = db.scalars(select(Account).where(Account.external_id == "CRM-1")).one()
    assert (acc.name, acc.name_search, acc.tier, acc.region_id, str(acc.arr), str(acc.renewal_date)) == (
        "Huber Kältetechnik GmbH",
        "huber kaltetechnik gmbh",  # the folded search key
        "gold",
        catalogue["region"].id,
        "120000.50",
        "2027-03-31",
    )
    site = db.scalars(select(Site).where(Site.external_id == "S-1")).one()
    assert (site.account_id, site.latitude, site.region_id) == (acc.id, 48.201, catalogue["region"].id)
    assert site.access_notes == "Tor 3, Pförtner anrufen"
    anna = db.scalars(select(Contact).where(Contact.external_id == "P-1")).one()
    assert (anna.account_id, anna.email, anna.phone_digits, anna.mobile_digits) == (
        acc.id,
        "anna.huber@huber.example",
        "8912345678",
        "1719876543",
    )
    chiller = db.scalars(select(Asset).where(Asset.external_id == "A-1")).one()
    assert (chiller.account_id, chiller.site_id, chiller.contract_id is not None) == (acc.id, site.id, True)
    oven = db.scalars(select(Asset).where(Asset.external_id == "A-2")).one()
    assert (str(oven.install_date), oven.warranty_end, oven.contract_id) == ("2023-02-01", None, None)
    # and the desk finds the caller by the number they call from
    hits = client.get("/api/v1/customers", params={"q": "089 12345678"}, headers=login("agent")).json()
    assert hits["items"][0]["contact_id"] == anna.id


def test_reimport_upserts_without_duplicates(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any]
) -> None:
    import_all(client, manager, db)
    before = [count(db, m) for m in (Account, Site, Contact, Asset)]
    again = imported(client, manager, "contacts", CONTACTS)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)
    changed = CONTACTS.replace("Max Sonne,,089/99887766", "Max Sonne,max@sonne.example,089 11112222")
    report = imported(client, manager, "contacts", changed)
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 1, 1)
    assert [count(db, m) for m in (Account, Site, Contact, Asset)] == before
    max_ = db.scalars(select(Contact).where(Contact.external_id == "P-2")).one()
    db.refresh(max_)
    assert (max_.email, max_.phone_digits, max_.version) == ("max@sonne.example", "8911112222", 2)


def test_absent_columns_are_kept_blank_cells_clear(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any]
) -> None:
    imported(client, manager, "customers", CUSTOMERS)
    imported(client, manager, "customers", "external_id,name\nCRM-1,Huber Kälte GmbH\n")
    acc = db.scalars(select(Account).where(Account.external_id == "CRM-1")).one()
    db.refresh(acc)
    assert (acc.name, acc.tier, acc.region_id) == ("Huber Kälte GmbH", "gold", catalogue["region"].id)
    imported(client, manager, "customers", "external_id,name,region_code,arr\nCRM-1,Huber Kälte GmbH,,\n")
    db.refresh(acc)
    assert (acc.tier, acc.region_id, acc.arr) == ("gold", None, None)


def test_bad_rows_are_reported_by_line_and_not_written(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any]
) -> None:
    imported(client, manager, "customers", CUSTOMERS)
    sites = (
        "external_id,account_external_id,name,address,latitude,longitude\n"
        "S-1,CRM-1,Werk Freimann,,48.2,11.6\n"  # line 2: fine
        "S-2,CRM-1,Lager,,north,11.6\n"  # line 3: latitude
        "S-3,CRM-9,Halle,,48.1,11.5\n"  # line 4: unknown customer
        'S-4,CRM-2,"Halle\nOst",,48.1,200\n'  # lines 5-6: longitude (quoted newline)
        "S-1,CRM-2,Again,,48.1,11.5\n"  # line 7: duplicate external id
        "S-5,CRM-2,,,48.1,11.5\n"  # line 8: name required
        "S-6,CRM-2,Kurz,48.1\n"  # line 9: too few fields
        "\n"
        'S-7,CRM-2,Filiale Süd,,"48,105","11,55"\n'  # line 11: decimal commas are fine
    )
    report = imported(client, manager, "sites", sites)
    assert (report["rows"], report["created"], report["failed"]) == (8, 2, 6)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (3, "latitude"),
        (4, "account_external_id"),
        (5, "longitude"),
        (7, "external_id"),
        (8, "name"),
        (9, ""),
    ]
    assert report["errors"][0]["message"] == "not a number"
    assert "CRM-9" in report["errors"][1]["message"]
    assert report["errors"][3]["message"] == "duplicate of line 2"
    got = db.scalars(select(Site.external_id).where(Site.external_id.like("S-%"))).all()
    assert sorted(got) == ["S-1", "S-7"]
    south = db.scalars(select(Site).where(Site.external_id == "S-7")).one()
    assert (south.latitude, south.longitude) == (48.105, 11.55)


def test_asset_rows_check_serials_models_and_contracts(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any]
) -> None:
    import_all(client, manager, db)
    other = f.make_account(db)
    f.make_contract(db, other, f.make_calendar(db), number="IMP-C-OTHER")
    db.commit()
    rows = (
        "external_id,serial,site_external_id,product_model_code,contract_number,install_date,warranty_end\n"
        "A-3,CH-0001,S-1,IMP-CHILLER,,,\n"  # serial of A-1
        "A-4,NEW-1,S-1,NOPE,,,\n"  # unknown model
        "A-5,NEW-2,S-1,IMP-CHILLER,IMP-C-OTHER,,\n"  # another customer's contract
        "A-6,NEW-3,S-1,IMP-CHILLER,,2025-01-01,2024-01-01\n"  # warranty before install
        "A-7,NEW-4,S-1,IMP-CHILLER,,2025-13-01,\n"  # not a date
        "A-8,NEW-4,S-1,IMP-CHILLER,,,\n"  # fine
        "A-9,NEW-4,S-2,IMP-OVEN,,,\n"  # serial twice in the file
    )
    report = imported(client, manager, "assets", rows)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [
        (2, "serial"),
        (3, "product_model_code"),
        (4, "contract_number"),
        (5, "warranty_end"),
        (6, "install_date"),
        (8, "serial"),
    ]
    assert report["created"] == 1
    assert count(db, Asset) == 3


def test_file_level_problems_are_problem_json(
    client: TestClient, manager: dict[str, str], db: Session
) -> None:
    r = post_csv(client, manager, "customers", "external_id,nmae\nX,Y\n")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "'nmae'" in r.json()["detail"] and "name" in r.json()["detail"]
    r = client.post(
        f"{API}/customers",
        headers={**manager, "Content-Type": "text/csv"},
        content="external_id,name\nX,M\xfcller\n".encode("latin-1"),
    )
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"]
    r = client.post(f"{API}/customers", headers=manager, json={"rows": []})
    assert r.status_code == 415
    assert count(db, Account) == 0


def test_unknown_entity_is_problem_json(client: TestClient, manager: dict[str, str]) -> None:
    r = post_csv(client, manager, "invoices", "external_id\nX\n")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["entity"]


def test_import_needs_manager_or_admin(client: TestClient, login: Any, catalogue: dict[str, Any]) -> None:
    assert post_csv(client, login("agent"), "customers", CUSTOMERS).status_code == 403
    assert post_csv(client, login("dispatcher"), "customers", CUSTOMERS).status_code == 403
    assert post_csv(client, login("admin"), "customers", CUSTOMERS).status_code == 200


def test_semicolon_files_from_german_spreadsheets(
    client: TestClient, manager: dict[str, str], db: Session
) -> None:
    text = '\ufeffexternal_id;name;arr\nCRM-7;Müller & Söhne;"12345,50"\n'
    assert imported(client, manager, "customers", text)["created"] == 1
    acc = db.scalars(select(Account).where(Account.external_id == "CRM-7")).one()
    assert (acc.name, str(acc.arr)) == ("Müller & Söhne", "12345.50")


def test_one_event_per_import_with_counts(
    client: TestClient, db: Session, manager: dict[str, str], catalogue: dict[str, Any]
) -> None:
    f.make_webhook_subscription(db, "http://127.0.0.1:9/hook", events=["customer.imported"])
    db.commit()
    imported(client, manager, "customers", CUSTOMERS + "CRM-3,,gold,,,,\n")
    [delivery] = db.scalars(select(WebhookDelivery).where(WebhookDelivery.event == "customer.imported")).all()
    data = delivery.payload["data"]
    assert (data["entity"], data["created"], data["failed"], data["rows"]) == ("customers", 2, 1, 3)


def test_cli_prints_report_and_fails_on_bad_rows(
    db: Session, tmp_path: Any, catalogue: dict[str, Any]
) -> None:
    from app.cli import cli

    good = tmp_path / "customers.csv"
    good.write_text(CUSTOMERS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["import", "customers", str(good)])
    assert result.exit_code == 0, result.output
    assert "created" in result.output and "2" in result.output
    bad = tmp_path / "sites.csv"
    bad.write_text("external_id,account_external_id,name,latitude,longitude\nS-9,CRM-1,X,abc,11\n")
    result = CliRunner().invoke(cli, ["import", "sites", str(bad)])
    assert result.exit_code == 1
    assert "latitude" in result.output and "not a number" in result.output
    assert count(db, Site) == 0
    result = CliRunner().invoke(cli, ["import", "invoices", str(bad)])
    assert result.exit_code == 1 and "invoices" in result.output


def test_rows_the_database_refuses_are_retried_one_by_one(
    db: Session, catalogue: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checks run first, but the database has the last word (e.g. a serial taken meanwhile by a
    concurrent import): the batch is rolled back and its rows written one by one."""
    from app.integrations.crm_import import service as crm_import

    site = f.make_site(db, f.make_account(db), external_id="S-RACE")
    f.make_asset(db, site, serial="TAKEN-1")
    db.commit()
    importer = crm_import._IMPORTERS["assets"](db)
    rows = [
        (
            line,
            {
                "external_id": f"R-{line}",
                "serial": serial,
                "site_external_id": "S-RACE",
                "product_model_code": "IMP-OVEN",
            },
        )
        for line, serial in ((2, "FREE-1"), (3, "TAKEN-1"), (4, "FREE-2"))
    ]
    importer.prepare(rows)
    importer.serial_owner.clear()  # as if TAKEN-1 had been free when the rows were checked
    checked = []
    for line, values in rows:
        fields, errors = importer.fields(line, values)
        assert errors == []
        checked.append((line, values, fields))
    report = crm_import.ImportReport("assets")
    crm_import._write(db, importer, checked, report)
    assert (report.created, report.failed) == (2, 1)
    assert report.errors[0].line == 3 and "rejected by the database" in report.errors[0].message
    serials = db.scalars(select(Asset.serial).where(Asset.site_id == site.id)).all()
    assert sorted(serials) == ["FREE-1", "FREE-2", "TAKEN-1"]
    # A database that keeps refusing rows no check could foresee calls the import off.
    monkeypatch.setattr(crm_import, "MAX_REFUSED", 0)
    with pytest.raises(crm_import.ImportAborted, match="line 3"):
        crm_import._write(db, importer, checked[1:2], crm_import.ImportReport("assets"))


def test_big_files_are_written_in_batches(
    client: TestClient, db: Session, manager: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.integrations.crm_import import service as crm_import

    monkeypatch.setattr(crm_import, "BATCH", 3)
    rows = "".join(f"B-{i},Batch {i}\n" if i != 5 else "B-5,\n" for i in range(1, 11))
    report = imported(client, manager, "customers", "external_id,name\n" + rows)
    assert (report["created"], report["failed"], report["errors"][0]["line"]) == (9, 1, 6)
    again = imported(client, manager, "customers", "external_id,name\n" + rows)
    assert (again["created"], again["unchanged"]) == (0, 9)
    assert count(db, Account) == 9
