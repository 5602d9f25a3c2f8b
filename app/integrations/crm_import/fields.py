"""Cell parsers and the column lists of the CRM CSV import (docs/import.md).

A parser takes the stripped cell text and returns the value, or raises ValueError with the
message the report shows ("line 7: latitude: not a number").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.desk.customers.rules import email, phone, tier  # shared with the write API
from app.platform import geocoder, i18n

Parser = Callable[[str], Any]


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = False
    # Value for a blank optional cell (and for a new row when the column is absent).
    default: Any = None


def text(max_len: int) -> Parser:
    def _parse(value: str) -> str:
        if len(value) > max_len:
            raise ValueError(f"longer than {max_len} characters")
        return value

    return _parse


# --- numbers --------------------------------------------------------------------------------
#
# Spreadsheets export numbers as their locale shows them: "1234.56", a German "1.234,56", a
# Swiss "1'234.56", a French "1 234,56" (with a no-break or narrow no-break space). A cell is
# read under every (thousands separator, decimal mark) convention it fits; all readings must
# agree, or the column's kind must rule all but one out (a latitude of 48137 does not exist),
# else the line is refused naming both readings. Never a guess: a wrong value imported
# silently (ARR 1.234 instead of 1234) is worse than a line to fix.
#
#   cell            read as            why
#   1234.56         1234.56            one mark, not followed by exactly 3 digits: the decimal mark
#   1234,56         1234.56            the same with a decimal comma
#   12,5            12.5
#   ,5              0.5
#   1.234,56        1234.56            both marks: the last is the decimal mark, the other
#   1,234.56        1234.56              separates thousands
#   1.234.567       1234567            a mark repeated: a thousands separator
#   1.234.567,8     1234567.8
#   1 234,5         1234.5             spaces (also U+00A0, U+202F) and apostrophes (', ’) only
#   1'234.56        1234.56              ever separate thousands, so the '.' or ',' is decimal
#   1 234.567       1234.567
#   0,125           0.125              "0" cannot lead a thousands group
#   1234,567        1234.567           "1234" cannot lead a thousands group (1–3 digits)
#   -1.234,5        -1234.5            a leading - or +
#   1.234           1234 or 1.234      ambiguous: refused, unless the column rules one out,
#   1,234           1234 or 1.234        e.g. latitude 48,137 → 48.137 (48137 is out of range);
#   123.456         123456 or 123.456    money is not disambiguated by its 2 decimals: a price
#                                        of 1,234 exists, it just cannot be stored
#   1,234,5         not a number       groups after the first have exactly 3 digits
#   1.234,567.8     not a number       a decimal mark appears once, after the thousands
#   1 234.567,8     not a number       one thousands separator per number
#   1e5, 1_000, 5%  not a number       no exponents, underscores or units
_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space
_APOSTROPHES = "'\u2019"
_NUMBER_CHARS = re.compile(r"[0-9.,'\u2019 \u00a0\u202f]+")
# (thousands separators, decimal mark) conventions a cell is tried under; "" = none.
_CONVENTIONS = tuple(
    (thousands, decimal)
    for thousands in ("", ".", ",", _SPACES, _APOSTROPHES)
    for decimal in ("", ".", ",")
    if decimal not in thousands or not decimal
)


def _digits(text: str) -> bool:
    # str.isdigit() alone also takes "²" and Arabic-Indic digits, which Decimal() would then read
    return text.isascii() and text.isdigit()


def _read_as(digits: str, thousands: str, decimal: str) -> Decimal | None:
    """`digits` (no sign) read with these separators, or None when it does not fit them."""
    whole, frac = digits, ""
    if decimal:
        if digits.count(decimal) != 1:
            return None
        whole, frac = digits.split(decimal)
        if not _digits(frac):  # a decimal mark needs digits after it
            return None
    groups = re.split(f"[{re.escape(thousands)}]", whole) if thousands else [whole]
    first, rest = groups[0], groups[1:]
    if rest:
        if not (1 <= len(first) <= 3 and _digits(first) and first[0] != "0"):
            return None
        if not all(len(g) == 3 and _digits(g) for g in rest):
            return None
    elif not (_digits(first) or not first and frac):  # ",5" is 0.5; "," alone is nothing
        return None
    return Decimal("".join(groups) + ("." + frac if frac else ""))


def readings(value: str) -> list[Decimal]:
    """The distinct values a cell can be read as (one, or two when a lone '.'/',' may be a
    thousands separator or the decimal mark); ValueError when it is no number at all."""
    sign, digits = (value[0], value[1:]) if value[:1] in "+-" else ("", value)
    if not _NUMBER_CHARS.fullmatch(digits) or not any(c.isdigit() for c in digits):
        raise ValueError("not a number")
    found: list[Decimal] = []
    for thousands, decimal in _CONVENTIONS:
        got = _read_as(digits, thousands, decimal)
        if got is not None and got not in found:
            found.append(got)
    if not found:
        raise ValueError("not a number")
    return [-d if sign == "-" else d for d in found]


def _one_reading(value: str, problem: Callable[[Decimal], str | None]) -> Decimal:
    """The cell's only reading the column allows (`problem` says why a value does not fit)."""
    found = readings(value)
    fitting = [d for d in found if problem(d) is None]
    if len(fitting) == 1:
        return fitting[0]
    if not fitting:
        raise ValueError(problem(found[0]))
    big, small = max(fitting, key=abs), min(fitting, key=abs)
    mark = "." if "." in value else ","
    other = "," if mark == "." else "."
    raise ValueError(
        f'ambiguous: "{value}" could be {big:f} ("{mark}" separating thousands) or {small:f} '
        f'("{mark}" as decimal {"point" if mark == "." else "comma"}); for {big:f} write '
        f"{big:f} or {value}{other}00"
    )


def number(lo: float, hi: float) -> Parser:
    def _problem(d: Decimal) -> str | None:
        return None if lo <= d <= hi else f"must be between {lo:g} and {hi:g}"

    def _parse(value: str) -> float:
        return float(_one_reading(value, _problem))

    return _parse


def _money_problem(d: Decimal) -> str | None:
    # Not the 2-decimal limit: that is what the column stores, not what the cell may mean.
    return None if d >= 0 else "must be a non-negative amount"


def money(value: str) -> Decimal:
    out = _one_reading(value, _money_problem)
    # the size first: quantize() raises InvalidOperation past 28 digits (a 30-digit ARR was a 500)
    if out >= Decimal("1e12") or out != out.quantize(Decimal("0.01")):
        raise ValueError("at most 12 digits and 2 decimals")
    return out


def day(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date (YYYY-MM-DD or DD.MM.YYYY)")


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def boolean(value: str) -> bool:
    """true/false, yes/no, 1/0 (any case); anything else is the line's error, never a guess."""
    word = value.lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError("must be true or false (also yes/no, 1/0)")


def language(value: str) -> str:
    """The language the customer is written to (app.platform.i18n: "de", "EN" → "en")."""
    return i18n.check(value)


EXTERNAL_ID = Column("external_id", text(64), required=True)

COLUMNS: dict[str, tuple[Column, ...]] = {
    "customers": (
        EXTERNAL_ID,
        Column("name", text(200), required=True),
        Column("tier", tier, default="standard"),
        Column("segment", text(40), default=""),
        Column("region_code", text(32)),
        Column("arr", money),
        Column("renewal_date", day),
        Column("language", language, default=i18n.DEFAULT),
    ),
    "sites": (
        EXTERNAL_ID,
        Column("account_external_id", text(64), required=True),
        Column("name", text(200), required=True),
        Column("address", text(300), default=""),
        Column("latitude", number(-90, 90), required=True),
        Column("longitude", number(-180, 180), required=True),
        Column("region_code", text(32)),
        Column("access_notes", text(5000), default=""),
    ),
    "contacts": (
        EXTERNAL_ID,
        Column("account_external_id", text(64), required=True),
        Column("name", text(200), required=True),
        Column("email", email),
        Column("phone", phone),
        Column("mobile", phone),
        # false: the contact left the customer (deactivated, history kept: docs/import.md);
        # blank: active, as a new contact is.
        Column("active", boolean, default=True),
    ),
    "assets": (
        EXTERNAL_ID,
        Column("serial", text(80), required=True),
        Column("site_external_id", text(64), required=True),
        Column("product_model_code", text(40), required=True),
        Column("contract_number", text(40)),
        Column("install_date", day),
        Column("warranty_end", day),
    ),
}
GEOCODED = ("latitude", "longitude")


def columns(entity: str) -> tuple[Column, ...]:
    """An entity's columns as this installation reads them: with a geocoder configured, a site's
    coordinates may be left out (column or cells), and the row's address is geocoded instead."""
    if entity == "sites" and geocoder.enabled():
        return tuple(replace(c, required=False) if c.name in GEOCODED else c for c in COLUMNS[entity])
    return COLUMNS[entity]
