"""Every CSV the product hands out goes through `app.platform.csv_export`: text that a spreadsheet
would run as a formula is quoted with `'` (OWASP CSV injection), numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from app.platform.csv_export import csv_text, safe_cell


@pytest.mark.parametrize(
    "typed",
    ['=HYPERLINK("http://x","hi")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1", "=", "-"],
)
def test_text_that_starts_a_formula_is_quoted(typed: str) -> None:
    assert safe_cell(typed) == "'" + typed


@pytest.mark.parametrize("value", ["Eva Berlin", "", "(all)", "2026-03-09", "a=b", "x-1", " =1", None, True])
def test_other_cells_are_written_as_they_are(value: object) -> None:
    assert safe_cell(value) is value


@pytest.mark.parametrize("number", [-3.5, -100, 0, 2.25])
def test_numbers_stay_numbers_also_negative_ones(number: float) -> None:
    assert safe_cell(number) == number
    (row,) = list(csv.reader(io.StringIO(csv_text(["value"], [[number]]))))[1:]
    assert float(row[0]) == number and not row[0].startswith("'")


def test_csv_text_escapes_header_and_rows_and_keeps_the_csv_readable() -> None:
    text = csv_text(["name", "value"], [['=HYPERLINK("http://x","hi")', -2.0], ["Ned, York", 1]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "value"],
        ['\'=HYPERLINK("http://x","hi")', "-2.0"],
        ["Ned, York", "1"],
    ]
    assert text.endswith("\n") and "\r" not in text
