"""Search keys of customers, derived on write: name key, e-mail, phone digits in the region's country.

A `before_flush` hook keeps them right for every ORM write (pages, API, import); bulk writers
that bypass the ORM (the demo seed) call `name_key` / `phone_digits` / `email_key` themselves.
"""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

import phonenumbers
from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from app.desk.customers import fuzzy
from app.models import Account, Contact, Region

DEFAULT_COUNTRY = "DE"


# Letters that no Unicode decomposition turns into what people type on a plain keyboard.
_PLAIN = str.maketrans({"ı": "i", "ß": "ss", "ẞ": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})
# German spells an umlaut out when the keyboard has none (Mueller = Müller): both fold to the bare vowel.
# A name such as "Michael" folds to "michal" too; harmless, since stored keys and queries fold alike.
_SPELLED_UMLAUT = re.compile(r"([aou])e")


def name_key(name: str) -> str:
    """The folded key of a name, as Account/Contact.name_search hold it and queries are compared.

    Case, accents, Turkish dotless/dotted i, ß/ss and ä/ae, ö/oe, ü/ue fold together, so
    "Backerei Yilmaz", "BAECKEREI YILMAZ" and "Bäckerei Yılmaz" share one key.
    """
    text = unicodedata.normalize("NFKD", name.casefold().translate(_PLAIN))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(_SPELLED_UMLAUT.sub(r"\1", text).split())


def account_and_name_key(account_key: str, contact_key: str) -> str:
    """Contact.account_and_name_search: both folded names, a tab between (name keys hold none), so
    "Müller GmbH" is looked up in the account's and the contact's name with one trigram probe."""
    return f"{account_key}\t{contact_key}"


def email_key(email: str | None) -> str | None:
    """E-mail addresses are stored lower-cased and trimmed, so lookups are exact-index probes."""
    return email.strip().lower() or None if email else None


@lru_cache
def _zone_countries() -> dict[str, str]:
    """Time zone → ISO country from the system's zone.tab (empty when there is none)."""
    for base in zoneinfo.TZPATH:
        path = Path(base) / "zone.tab"
        if path.is_file():
            pairs = (line.split("\t") for line in path.read_text().splitlines() if line[:1] != "#")
            return {cols[2]: cols[0] for cols in pairs if len(cols) >= 3}
    return {}


def country_of(timezone: str | None) -> str:
    """The country phone numbers are read in: the region's, by its time zone; DE by default."""
    return _zone_countries().get(timezone or "", DEFAULT_COUNTRY)


def phone_digits(phone: str | None, country: str = DEFAULT_COUNTRY) -> str | None:
    """National significant number: '+49 89 1234-5678', '089 12345678', '0049 89…' → '8912345678'."""
    if not phone or not phone.strip():
        return None
    try:
        digits = phonenumbers.national_significant_number(phonenumbers.parse(phone, country))
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", phone).lstrip("0")
    return digits[:20] or None


_COUNTRIES = "fieldline.account_countries"  # session.info key: account id → phone country


def seed_account_countries(session: Session, countries: dict[int, str]) -> None:
    """Tell the session the phone country of accounts a bulk writer has already looked up."""
    session.info.setdefault(_COUNTRIES, {}).update(countries)


def _account_country(session: Session, account_id: int | None) -> str:
    if account_id is None:
        return DEFAULT_COUNTRY
    cache: dict[int, str] = session.info.setdefault(_COUNTRIES, {})
    if account_id not in cache:
        with session.no_autoflush:
            tz = session.scalar(
                select(Region.timezone)
                .join(Account, Account.region_id == Region.id)
                .where(Account.id == account_id)
            )
        cache[account_id] = country_of(tz)
    return cache[account_id]


def fill_contact_keys(session: Session, contact: Contact) -> None:
    """Set the derived search columns of a contact (digits in the account region's country)."""
    country = _account_country(session, contact.account_id)
    contact.email = email_key(contact.email)
    contact.phone_digits = phone_digits(contact.phone, country)
    contact.mobile_digits = phone_digits(contact.mobile, country)


def _changed(obj: Any, *attrs: str) -> bool:
    state = inspect(obj)
    return state.pending or any(state.attrs[a].history.has_changes() for a in attrs)


def _account_key(session: Session, account_id: int | None) -> str:
    """The account's name key, from the session when it holds the account (renamed in this flush)."""
    if account_id is None:
        return ""
    with session.no_autoflush:
        account = session.get(Account, account_id)
    return account.name_search if account is not None else ""


@event.listens_for(Session, "before_flush")
def _derive_search_keys(session: Session, _ctx: Any, _instances: Any) -> None:
    """Whoever writes an account or contact through the ORM, its search keys follow."""
    changed = (*session.new, *session.dirty)
    for obj in changed:  # accounts first: their contacts' combined keys read the new name key
        if isinstance(obj, Account) and _changed(obj, "name", "region_id"):
            key = name_key(obj.name or "")
            renamed = obj.name_search != key
            fuzzy.learn(key)  # its words are near spellings this process can offer at once
            if renamed:
                obj.name_search = key
            if renamed and obj.id is not None:
                # A rename is no edit of its contacts (no version bump): one UPDATE of their keys,
                # before this flush writes any contact changed with it (those get the key below).
                session.connection().execute(
                    update(Contact)
                    .where(Contact.account_id == obj.id)
                    .values(account_and_name_search=key + "\t" + Contact.name_search)
                )
            # phone numbers of its contacts are read in the region's country
            session.info.get(_COUNTRIES, {}).pop(obj.id, None)
    for obj in changed:
        if isinstance(obj, Contact):
            if _changed(obj, "phone", "mobile", "email", "account_id"):
                fill_contact_keys(session, obj)
            if _changed(obj, "name"):
                obj.name_search = name_key(obj.name or "")
                fuzzy.learn(obj.name_search)
            if _changed(obj, "name", "account_id") or obj.account_and_name_search is None:
                obj.account_and_name_search = account_and_name_key(
                    _account_key(session, obj.account_id), obj.name_search
                )
