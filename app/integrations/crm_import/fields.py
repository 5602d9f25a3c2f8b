"""Cell parsers and the column lists of the CRM CSV import (docs/import.md).

A parser takes the stripped cell text and returns the value, or raises ValueError with the
message the report shows ("line 7: latitude: not a number").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.desk.customers.keys import phone_digits

TIERS = ("platinum", "gold", "silver", "standard")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

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


def number(lo: float, hi: float) -> Parser:
    def _parse(value: str) -> float:
        try:
            out = float(_decimal_point(value))
        except ValueError:
            raise ValueError("not a number") from None
        if not lo <= out <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return out

    return _parse


def _decimal_point(value: str) -> str:
    # German exports write 48,137 — accept a lone decimal comma.
    return value.replace(",", ".") if "," in value and "." not in value else value


def money(value: str) -> Decimal:
    try:
        out = Decimal(_decimal_point(value.replace(" ", "")))
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not out.is_finite() or out < 0:
        raise ValueError("must be a non-negative amount")
    if out != out.quantize(Decimal("0.01")) or out >= Decimal("1e12"):
        raise ValueError("at most 12 digits and 2 decimals")
    return out


def day(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date (YYYY-MM-DD or DD.MM.YYYY)")


def tier(value: str) -> str:
    if value.lower() not in TIERS:
        raise ValueError(f"unknown tier; use one of {', '.join(TIERS)}")
    return value.lower()


def email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


def phone(value: str) -> str:
    if len(value) > 40:
        raise ValueError("longer than 40 characters")
    digits = phone_digits(value)
    if not digits or len(digits) < 4 or re.search(r"[A-Za-z]", value):
        raise ValueError("not a phone number")
    return value


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
