"""What a customer record's fields must be, for every writer: the CRM CSV import
(`app/integrations/crm_import/fields.py` reads its cells with these) and the write API
(`records.py`). Each check takes the stripped text and returns the stored value, or raises
ValueError with the message both show ("not an e-mail address").

Search keys (folded names, phone digits) are not set here: the flush hook in `keys.py` derives
them for every ORM writer."""

from __future__ import annotations

import re

from app.desk.customers.keys import phone_digits

TIERS = ("platinum", "gold", "silver", "standard")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
