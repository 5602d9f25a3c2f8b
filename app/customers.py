"""Customer search for the desk: phone (any format), name, e-mail, asset serial; best match first.

Search keys are derived on write (app/customer_keys.py), so every lookup is an indexed equality
or prefix probe; substrings go through pg_trgm on PostgreSQL. Each probe reads at most `CANDIDATES` rows,
so a query that matches half the customer base costs no more than one that matches ten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.customer_keys import (  # noqa: F401  (re-exported: the seed and the import use them)
    DEFAULT_COUNTRY,
    country_of,
    email_key,
    name_key,
    phone_digits,
)
from app.errors import Unprocessable
from app.models import Account, Asset, Contact, Region, Site

MIN_QUERY = 2
MIN_SUBSTRING = 3  # shorter substrings match nearly everything and defeat the trigram index
MIN_PHONE_PREFIX = 5  # national digits; "8912" would match every second number in Munich
CANDIDATES = 200  # rows read per probe at most; more matches → `truncated`
_PHONE_LIKE = re.compile(r"^\+?[\d\s()/.\-]+$")
_LIKE_SPECIAL = re.compile(r"([\\%_])")

# Match ranks: lower is better (exact phone/serial/e-mail > name prefix > substring).
EXACT, PREFIX, SUBSTRING = 0, 1, 2
MATCH_KINDS = {EXACT: "exact", PREFIX: "prefix", SUBSTRING: "substring"}


# --- search --------------------------------------------------------------------------------


@dataclass
class SearchHit:
    account_id: int
    account_name: str
    external_id: str | None
    tier: str
    region: str | None
    matched_field: str  # phone, mobile, email, serial, account_name, contact_name, external_id
    match: str  # exact, prefix, substring
    value: str
    contact_id: int | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    asset_id: int | None = None
    site_name: str | None = None


@dataclass
class SearchResult:
    query: str
    items: list[SearchHit]
    truncated: bool  # some probe had more than CANDIDATES matches: refine the query


@dataclass
class _Found:
    rank: int
    sort_name: str
    matched_field: str
    value: str
    account_id: int
    contact_id: int | None = None
    asset_id: int | None = None


@dataclass
class _Probe:
    rank: int
    matched_field: str
    stmt: Select[Any]
    # row → (value, sort name, account id, contact id, asset id)
    kind: str = "account"
    extra: dict[str, Any] = field(default_factory=dict)


def _like_prefix(text: str) -> str:
    return _LIKE_SPECIAL.sub(r"\\\1", text) + "%"


def _like_contains(text: str) -> str:
    return "%" + _LIKE_SPECIAL.sub(r"\\\1", text) + "%"


def _prefix(col: Any, text: str) -> ColumnElement[bool]:
    # Escaped LIKE 'x%': on PostgreSQL served by the varchar_pattern_ops indexes.
    return col.like(_like_prefix(text), escape="\\")


def validate_query(q: str | None) -> str:
    text = " ".join((q or "").split())
    if len(text) < MIN_QUERY:
        raise Unprocessable(
            f"Type at least {MIN_QUERY} characters: a phone number, name, e-mail or serial.",
            errors=[{"field": "q", "message": f"at least {MIN_QUERY} characters"}],
        )
    return text


def _probes(text: str, country: str) -> list[_Probe]:
    key = name_key(text)  # account names: compared with Account.name_search
    typed = text.lower()  # contact names: ILIKE, which folds case itself
    contact = (Contact.id, Contact.account_id, Contact.name)
    phones = (*contact, Contact.phone_digits, Contact.mobile_digits, Contact.phone, Contact.mobile)
    probes: list[_Probe] = []
    if _PHONE_LIKE.match(text) and sum(c.isdigit() for c in text) >= 3:
        digits = phone_digits(text, country)
        if digits:
            probes.append(
                _Probe(
                    EXACT,
                    "phone",
                    select(*phones).where(
                        or_(Contact.phone_digits == digits, Contact.mobile_digits == digits)
                    ),
                    kind="phone",
                    extra={"digits": digits},
                )
            )
            if len(digits) >= MIN_PHONE_PREFIX:
                probes.append(
                    _Probe(
                        PREFIX,
                        "phone",
                        select(*phones).where(
                            or_(_prefix(Contact.phone_digits, digits), _prefix(Contact.mobile_digits, digits))
                        ),
                        kind="phone",
                        extra={"digits": digits},
                    )
                )
    if " " not in text:
        email = text.lower()
        probes.append(
            _Probe(
                EXACT,
                "email",
                select(*contact, Contact.email).where(Contact.email == email),
                kind="contact_email",
            )
        )
        probes.append(
            _Probe(
                PREFIX,
                "email",
                select(*contact, Contact.email).where(_prefix(Contact.email, email)),
                kind="contact_email",
            )
        )
        # Serials are matched as typed and upper-cased (how they are printed on rating plates).
        serials = list(dict.fromkeys((text, text.upper())))
        asset = select(Asset.id, Asset.account_id, Asset.serial, Account.name_search).join(
            Account, Account.id == Asset.account_id
        )
        probes.append(_Probe(EXACT, "serial", asset.where(Asset.serial.in_(serials)), kind="asset"))
        probes.append(
            _Probe(
                PREFIX, "serial", asset.where(or_(*(_prefix(Asset.serial, s) for s in serials))), kind="asset"
            )
        )
        probes.append(
            _Probe(
                EXACT,
                "external_id",
                select(Account.id, Account.external_id, Account.name_search).where(
                    Account.external_id == text
                ),
                kind="external",
            )
        )
    account = (Account.id, Account.name, Account.name_search)
    probes.append(
        _Probe(
            PREFIX, "account_name", select(*account).where(_prefix(Account.name_search, key)), kind="account"
        )
    )
    if len(key) >= MIN_SUBSTRING:
        # Prefix matches are excluded so the candidate budget goes to new hits.
        probes.append(
            _Probe(
                SUBSTRING,
                "account_name",
                select(*account).where(
                    Account.name_search.like(_like_contains(key), escape="\\"),
                    ~_prefix(Account.name_search, key),
                ),
                kind="account",
            )
        )
        # Contact names: one trigram probe for both tiers, ranked per row. An anchored ILIKE
        # 'x%' gains nothing from trigrams (they carry no position) and rechecks every
        # contact whose surname starts with x, so it is not asked separately.
        probes.append(
            _Probe(
                PREFIX,
                "contact_name",
                select(*contact).where(Contact.name.ilike(_like_contains(typed), escape="\\")),
                kind="contact",
                extra={"typed": typed},
            )
        )
    return probes


def _found(probe: _Probe, row: Any) -> list[_Found]:
    r, f = probe.rank, probe.matched_field
    if probe.kind == "account":
        return [_Found(r, row.name_search, f, row.name, row.id)]
    if probe.kind == "external":
        return [_Found(r, row.name_search, f, row.external_id, row.id)]
    if probe.kind == "contact":
        rank = PREFIX if row.name.lower().startswith(probe.extra["typed"]) else SUBSTRING
        return [_Found(rank, name_key(row.name), f, row.name, row.account_id, row.id)]
    if probe.kind == "contact_email":
        return [_Found(r, name_key(row.name), f, row.email, row.account_id, row.id)]
    if probe.kind == "asset":
        return [_Found(r, row.name_search, f, row.serial, row.account_id, asset_id=row.id)]
    # phone: report the number that matched (landline or mobile) as it was entered
    digits = probe.extra["digits"]
    for which, got, shown in (
        ("phone", row.phone_digits, row.phone),
        ("mobile", row.mobile_digits, row.mobile),
    ):
        if got and (got == digits if r == EXACT else got.startswith(digits)):
            return [_Found(r, name_key(row.name), which, shown or got, row.account_id, row.id)]
    return []


def search(session: Session, *, q: str | None, limit: int = 20) -> SearchResult:
    """Best match first: exact phone/serial/e-mail/CRM id, then prefixes, then substrings.

    Probes run rank by rank and stop once `limit` distinct hits are in; within a rank, hits
    are ordered by name (account name, or the contact's name for contact matches).
    """
    text = validate_query(q)
    country = country_of(get_settings().time_zone)
    best: dict[tuple[int, int | None, int | None], _Found] = {}
    truncated = False
    probes = _probes(text, country)
    for rank in (EXACT, PREFIX, SUBSTRING):
        for probe in (p for p in probes if p.rank == rank):
            rows = session.execute(probe.stmt.limit(CANDIDATES)).all()
            truncated = truncated or len(rows) >= CANDIDATES
            for row in rows:
                for hit in _found(probe, row):
                    key = (hit.account_id, hit.contact_id, hit.asset_id)
                    if key not in best or (hit.rank, hit.sort_name) < (best[key].rank, best[key].sort_name):
                        best[key] = hit
        # A probe may also return hits of a later rank: count only the ranks that are complete.
        if sum(1 for h in best.values() if h.rank <= rank) >= limit:
            break
    ranked = sorted(
        best.values(), key=lambda h: (h.rank, h.sort_name, h.account_id, h.contact_id or 0, h.asset_id or 0)
    )[:limit]
    return SearchResult(query=text, items=_hydrate(session, ranked), truncated=truncated)


def _hydrate(session: Session, found: Sequence[_Found]) -> list[SearchHit]:
    """Two lookups by primary key fill in account, region, contact and site for the hits."""
    if not found:
        return []
    account_ids = {f.account_id for f in found}
    accounts = {
        a.id: (a, code)
        for a, code in session.execute(
            select(Account, Region.code)
            .outerjoin(Region, Region.id == Account.region_id)
            .where(Account.id.in_(account_ids))
        )
    }
    contact_ids = {f.contact_id for f in found if f.contact_id}
    contacts = (
        {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))}
        if contact_ids
        else {}
    )
    asset_ids = {f.asset_id for f in found if f.asset_id}
    sites = (
        dict(
            session.execute(
                select(Asset.id, Site.name)
                .join(Site, Site.id == Asset.site_id)
                .where(Asset.id.in_(asset_ids))
            )
            .tuples()
            .all()
        )
        if asset_ids
        else {}
    )
    hits = []
    for f in found:
        account, region = accounts[f.account_id]
        contact = contacts.get(f.contact_id) if f.contact_id else None
        hits.append(
            SearchHit(
                account_id=account.id,
                account_name=account.name,
                external_id=account.external_id,
                tier=account.tier,
                region=region,
                matched_field=f.matched_field,
                match=MATCH_KINDS[f.rank],
                value=f.value,
                contact_id=contact.id if contact else None,
                contact_name=contact.name if contact else None,
                contact_email=contact.email if contact else None,
                contact_phone=(contact.phone or contact.mobile) if contact else None,
                asset_id=f.asset_id,
                site_name=sites.get(f.asset_id) if f.asset_id else None,
            )
        )
    return hits
