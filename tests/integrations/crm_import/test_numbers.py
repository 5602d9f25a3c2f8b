"""Numbers as spreadsheets in other locales export them: German, Swiss, French thousands
separators are read; a cell that could mean two values is refused by line and column, naming both,
unless the column's kind rules one of them out (the rule table is in crm_import/fields.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.crm_import.fields import money, number, readings
from app.models import Account, Site

API = "/api/v1/imports"

NNBSP, NBSP = "\u202f", "\u00a0"


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    headers: dict[str, str] = login("manager")
    return headers


def imported(client: TestClient, headers: dict[str, str], entity: str, text: str) -> dict[str, Any]:
    r = client.post(f"{API}/{entity}", headers={**headers, "Content-Type": "text/csv"}, content=text.encode())
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("12,5", "12.5"),
        (",5", "0.5"),
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1.234.567", "1234567"),
        ("1,234,567", "1234567"),
        ("1.234.567,8", "1234567.8"),
        ("1 234,5", "1234.5"),
        (f"1{NBSP}234,5", "1234.5"),
        (f"1{NNBSP}234{NNBSP}567,25", "1234567.25"),
        ("1'234.56", "1234.56"),
        ("1\u2019234.56", "1234.56"),
        ("1 234.567", "1234.567"),  # a space separates the thousands, so "." is the decimal point
        ("0,125", "0.125"),  # "0" leads no thousands group
        ("1234,567", "1234.567"),  # nor do four digits
        ("-1.234,5", "-1234.5"),
        ("+7", "7"),
    ],
)
def test_one_reading(cell: str, value: str) -> None:
    assert readings(cell) == [Decimal(value)]


@pytest.mark.parametrize("cell", ["1.234", "1,234", "123.456", "-12,345"])
def test_a_lone_mark_before_three_digits_reads_two_ways(cell: str) -> None:
    whole = cell.replace(".", "").replace(",", "")
    assert sorted(readings(cell), key=abs) == [Decimal(cell.replace(",", ".")), Decimal(whole)]


@pytest.mark.parametrize(
    "cell",
    [
        "1,234,5",
        "1.234,567.8",
        "1 234.567,8",
        "12.34.5",
        "1e5",
        "1_000",
        "5 %",
        "1,",
        ",",
        "-",
        "- 5",
        "²3",
        "0.123.456",
    ],
)
def test_not_a_number(cell: str) -> None:
    with pytest.raises(ValueError, match="^not a number$"):
        readings(cell)


def test_money_refuses_an_ambiguous_amount_naming_both_readings() -> None:
    # A price of 1,234 € exists (it just has more decimals than the column keeps): no guess.
    with pytest.raises(ValueError) as refused:
        money("1.234")
    assert str(refused.value) == (
        'ambiguous: "1.234" could be 1234 ("." separating thousands) or 1.234 ("." as decimal point); '
        "for 1234 write 1234 or 1.234,00"
    )
    with pytest.raises(ValueError, match=r'^ambiguous: "120,000" could be 120000 .* or 120\.000 '):
        money("120,000")
    assert money("1.234,00") == Decimal("1234.00")
    assert money("120.000,50") == Decimal("120000.50")


@pytest.mark.parametrize("cell", ["100000000000000000000000000000", "1000000000000", "1.5555"])
def test_money_too_large_or_too_precise_is_a_row_error_not_a_crash(cell: str) -> None:
    """30 digits made quantize() raise InvalidOperation: a 500 after earlier batches had landed."""
    with pytest.raises(ValueError, match="^at most 12 digits and 2 decimals$"):
        money(cell)


def test_the_columns_range_rules_out_a_reading() -> None:
    latitude, longitude = number(-90, 90), number(-180, 180)
    assert latitude("48,137") == 48.137  # 48137 is no latitude
    assert longitude("11.582") == 11.582
    assert longitude("-122,419") == -122.419
    with pytest.raises(ValueError, match="^must be between -90 and 90$"):
        latitude("123,456")  # neither reading is a latitude
    # A number column without such a limit stays ambiguous.
    with pytest.raises(ValueError, match=r'^ambiguous: "1,234" could be 1234 .* or 1\.234 '):
        number(-1e9, 1e9)("1,234")


def test_a_german_export_imports_and_an_ambiguous_line_is_refused_alone(
    client: TestClient, db: Session, manager: dict[str, str]
) -> None:
    text = (
        "external_id;name;arr\n"
        "DE-1;Huber;1.234,56\n"  # line 2
        "DE-2;Sonne;1.234\n"  # line 3: 1234 or 1.234?
        f"DE-3;Lamm;12{NNBSP}500,5\n"  # line 4
        'DE-4;Adler;"1,234.56"\n'  # line 5: an English export
        "DE-5;Kranz;1'234'567.80\n"  # line 6: a Swiss one
    )
    report = imported(client, manager, "customers", text)
    assert (report["created"], report["failed"]) == (4, 1)
    [error] = report["errors"]
    assert (error["line"], error["field"]) == (3, "arr")
    assert '"1.234" could be 1234' in error["message"] and "or 1.234 " in error["message"]
    arr = dict(
        db.execute(select(Account.external_id, Account.arr).where(Account.external_id.like("DE-%"))).all()
    )
    assert arr == {
        "DE-1": Decimal("1234.56"),
        "DE-3": Decimal("12500.50"),
        "DE-4": Decimal("1234.56"),
        "DE-5": Decimal("1234567.80"),
    }

    sites = "external_id;account_external_id;name;latitude;longitude\nS-DE;DE-1;Werk;48,137;11.582\n"
    assert imported(client, manager, "sites", sites)["created"] == 1
    site = db.scalars(select(Site).where(Site.external_id == "S-DE")).one()
    assert (site.latitude, site.longitude) == (48.137, 11.582)
