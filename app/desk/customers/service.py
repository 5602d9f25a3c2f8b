"""Customer search for the desk: phone (any format), name, e-mail, asset serial; best match first.

Search keys are derived on write (app/desk/customers/keys.py), so every lookup is an indexed equality
or prefix probe; substrings, words in any order and phone tails go through pg_trgm on PostgreSQL.
Names are compared by their folded key (case, accents, ß/ss, ä/ae, Turkish ı), so a caller's name is
found however it is typed, also with dots, commas or quotes typed around it. Each probe reads at
most `CANDIDATES` rows, so a query that matches half the customer base costs no more than one that
matches ten.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    cast,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from app.desk.customers import fuzzy
from app.desk.customers.keys import (
    country_of,
    name_key,
    phone_digits,
)
from app.models import Account, Asset, Contact, Region, Site
from app.models.crm import SERIAL_KEY_SQL, email_domain
from app.platform.config import get_settings
from app.platform.errors import Unprocessable
from app.platform.like import LIKE_ESCAPE, like_contains, like_prefix

MIN_QUERY = 2
MIN_SUBSTRING = 3  # shorter substrings match nearly everything and defeat the trigram index
MIN_PHONE_PREFIX = 5  # national digits; "8912" would match every second number in Munich
MIN_PHONE_TAIL = 6  # the last digits a caller reads out; fewer match thousands of numbers
CANDIDATES = 100  # rows read per lookup at most (twice the largest page); more → `truncated`
# A phone number as typed or pasted: digits, the usual separators, and junk a paste or a slip brings
# along ("++49", "089_884770", "089;884770"), cleaned by `_phone_text` before it is parsed.
_PHONE_LIKE = re.compile(r"^[\d\s()/.\-+_,;:]+$")
_PHONE_JUNK = re.compile(r"[+_,;:]+")
FUZZY_BELOW = 3  # fewer customers found exactly than this: near spellings of a name are looked up too
_SERIAL_SEPARATORS = re.compile(r"[-\s/.]")  # what SERIAL_KEY_SQL takes out of a serial
# An e-mail domain as typed, "@" optional: dotted labels ending in letters ("ziegler-maschinenbau.de"),
# not a version or fault code ("E.04", "2.5") nor a name with spaces.
_DOMAIN = re.compile(r"@?((?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,})")

# Match ranks: lower is better (exact phone/serial/e-mail > prefix > phone tail > substring/words >
# words split between the account's name and one of its contacts').
EXACT, PREFIX, SUFFIX, SUBSTRING, SPLIT = 0, 1, 2, 3, 4
RANKS = (EXACT, PREFIX, SUFFIX, SUBSTRING, SPLIT)
SIMILAR = 5  # a near spelling (the fuzzy fallback): below every exact hit, closest first
# Ranks asked in one round trip: prefixes and phone tails are both cheap index probes; the split
# names ride with the substrings (trigram probes too), so a search stays at three round trips.
STAGES = ((EXACT,), (PREFIX, SUFFIX), (SUBSTRING, SPLIT))
# A split hit is words found anywhere, as a substring hit is (the API's `match` keeps its four
# values); it is ranked below, since the caller named no single name in full.
# A hit by a contact's mail domain: "email" in the answer; its own name here so that it is capped as
# its own lookup and names no contact when several of the customer's contacts share the domain.
DOMAIN = "email_domain"
MATCH_KINDS = {
    EXACT: "exact",
    PREFIX: "prefix",
    SUFFIX: "suffix",
    SUBSTRING: "substring",
    SPLIT: "substring",
    SIMILAR: "similar",
}


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
    total: int  # distinct customers found; a lower bound when `truncated`
    truncated: bool  # some probe had more than CANDIDATES matches: refine the query

    @property
    def more(self) -> bool:
        """More matches exist than `items` shows."""
        return self.truncated or self.total > len(self.items)


@dataclass
class _Found:
    rank: int
    sort_name: str
    matched_field: str
    value: str
    account_id: int
    contact_id: int | None = None
    asset_id: int | None = None
    edits: int = 0  # a similar hit's distance from the typed words (ranks within SIMILAR)


def _prefix(col: Any, text: str) -> ColumnElement[bool]:
    # Escaped LIKE 'x%': on PostgreSQL served by the varchar_pattern_ops indexes.
    matches: ColumnElement[bool] = col.like(like_prefix(text), escape=LIKE_ESCAPE)
    return matches


def _suffix(col: Any, digits: str) -> ColumnElement[bool]:
    # LIKE '%123456' (digits only, nothing to escape): on PostgreSQL served by the trigram indexes.
    matches: ColumnElement[bool] = col.like("%" + digits)
    return matches


def _all_words(col: Any, words: Sequence[str]) -> ColumnElement[bool]:
    """Every word of the folded query somewhere in the folded name, in any order ("wagner jurgen")."""
    return and_(*(col.like(like_contains(word), escape=LIKE_ESCAPE) for word in words))


# What people type around a name or a word and the stored name lacks: sentence marks, a "*"
# wildcard, quotes and brackets of any script (Unicode Pi/Pf/Ps/Pe: „“ «» ( ) [ ]). Not "%", "&",
# "+", "-", "/", "#": those belong to names ("100% Service", "C&A", "Müller-Lüdenscheidt").
_AROUND = frozenset(".,;:!?¡¿*\"'`")
_BRACKETS_AND_QUOTES = ("Pi", "Pf", "Ps", "Pe")


def _around(c: str) -> bool:
    return c in _AROUND or unicodedata.category(c) in _BRACKETS_AND_QUOTES


def _trim(text: str) -> str:
    """`text` without the punctuation around it: "gmbh." → "gmbh", '"acme"' → "acme"."""
    start, end = 0, len(text)
    while start < end and _around(text[start]):
        start += 1
    while end > start and _around(text[end - 1]):
        end -= 1
    return text[start:end]


@dataclass(frozen=True)
class _NameQuery:
    """The folded query as names are matched: stored keys keep a name's own punctuation ("dr.",
    "c&a", "gmbh & co. kg"), so the query keeps what is inside it, while a dot, comma or quote
    typed around the name or a word ("Müller GmbH.", '"Acme"', "Müller, Hans") is ignored."""

    prefixes: tuple[str, ...]  # a stored key starting with any of them is a prefix match
    words: tuple[str, ...]  # each somewhere in the stored key: a words-in-any-order match

    @classmethod
    def of(cls, text: str) -> _NameQuery:
        key = name_key(text)
        trimmed = _trim(key)
        if len(trimmed) < MIN_QUERY:  # nothing but punctuation, or one letter in quotes
            prefixes: tuple[str, ...] = (key,)
        elif key.startswith(trimmed):
            # Only trailing punctuation went (the usual case): 'muller gmbh%' also matches
            # everything 'muller gmbh.%' does, so one LIKE serves both.
            prefixes = (trimmed,)
        else:
            # Leading punctuation went too: the key as typed still matches a name stored with it
            # ("(alt) huber"); two prefix LIKEs are an OR of two range scans of the same index.
            prefixes = (key, trimmed)
        return cls(prefixes, tuple(w for w in map(_trim, key.split()) if w))

    def prefix_of(self, col: Any) -> ColumnElement[bool]:
        return or_(*(_prefix(col, p) for p in self.prefixes))

    def starts(self, key: str) -> bool:
        return any(key.startswith(p) for p in self.prefixes)


def validate_query(q: str | None) -> str:
    text = " ".join((q or "").split())
    if len(text) < MIN_QUERY:
        raise Unprocessable(
            f"Type at least {MIN_QUERY} characters: a phone number, name, e-mail or serial.",
            errors=[{"field": "q", "message": f"at least {MIN_QUERY} characters"}],
        )
    return text


_NO_ID = cast(null(), Integer)


def _probe(
    matched_field: str,
    rank: int,
    account_id: Any,
    value: Any,
    name: Any,
    *,
    contact_id: Any = None,
    asset_id: Any = None,
) -> Select[Any]:
    """One lookup, in the shape all lookups of a rank share so they run as one UNION ALL."""
    stmt = select(
        literal(matched_field, String).label("field"),
        literal(rank, Integer).label("rank"),
        account_id.label("account_id"),
        (_NO_ID if contact_id is None else contact_id).label("contact_id"),
        (_NO_ID if asset_id is None else asset_id).label("asset_id"),
        value.label("value"),
        name.label("name"),  # what ties are ordered by
    )
    # A contact who left the customer (deactivated, records.delete_contact) is no caller to find.
    return stmt if contact_id is None else stmt.where(Contact.active.is_(True))


def _split_names(words: Sequence[str]) -> Select[Any]:
    """Words typed as company + person ("Müller GmbH": "GmbH" in the account's name, "Müller" in
    its contact's; "Ziegler Müller") that no one name holds all of: the account with that contact.

    One trigram probe on `Contact.account_and_name_search` (account key, tab, contact key): every
    word somewhere in the two names together. Pairs whose one name holds every word are left out
    in the query (the whole-name lookups found them at a better rank, and they would spend this
    lookup's budget): "%w%\t%" is a word of the account's name, as name keys hold no tab.
    """
    both = Contact.account_and_name_search
    in_account = and_(*(both.like(like_contains(w) + "\t%", escape=LIKE_ESCAPE) for w in words))
    return _probe(
        "contact_name", SPLIT, Contact.account_id, Contact.name, Contact.name, contact_id=Contact.id
    ).where(_all_words(both, words), ~in_account, ~_all_words(Contact.name_search, words))


def _phone_text(text: str) -> str | None:
    """The query as a phone number to parse ("++49 89 884770" → "+49 89 884770"), or None."""
    if not _PHONE_LIKE.match(text) or sum(c.isdigit() for c in text) < 3:
        return None
    # One leading "+" is the international prefix; more of them, or "_", ",", ";", ":" anywhere, are
    # slips or paste residue: read as separators, which the number parser ignores.
    cleaned = " ".join(_PHONE_JUNK.sub(" ", text).split())
    return ("+" if text.startswith("+") else "") + cleaned


def _probes(text: str, country: str) -> dict[int, list[Select[Any]]]:
    names = _NameQuery.of(text)  # names: compared with Account/Contact.name_search
    out: dict[int, list[Select[Any]]] = {rank: [] for rank in RANKS}
    phone = _phone_text(text)
    phone_like = phone is not None
    digits = phone_digits(phone, country) if phone else None
    if digits:
        for which, col, shown in (
            ("phone", Contact.phone_digits, Contact.phone),
            ("mobile", Contact.mobile_digits, Contact.mobile),
        ):
            args = (Contact.account_id, shown, Contact.name)
            out[EXACT].append(_probe(which, EXACT, *args, contact_id=Contact.id).where(col == digits))
            if len(digits) >= MIN_PHONE_PREFIX:
                out[PREFIX].append(
                    _probe(which, PREFIX, *args, contact_id=Contact.id).where(_prefix(col, digits))
                )
            # The digits as typed, leading zeros kept: "…0 12 34" ends a stored number as it is.
            tail = re.sub(r"\D", "", text)
            if len(tail) >= MIN_PHONE_TAIL:
                out[SUFFIX].append(
                    _probe(which, SUFFIX, *args, contact_id=Contact.id).where(
                        _suffix(col, tail), col != digits
                    )
                )
    if " " not in text and not phone_like:
        email = text.lower()
        args = (Contact.account_id, Contact.email, Contact.name)
        out[EXACT].append(_probe("email", EXACT, *args, contact_id=Contact.id).where(Contact.email == email))
        out[PREFIX].append(
            _probe("email", PREFIX, *args, contact_id=Contact.id).where(_prefix(Contact.email, email))
        )
    domain = _DOMAIN.fullmatch(text.lower())
    if domain:
        # Everyone at a company's mail domain (exactly that domain: "bau.de" is not "ziegler-bau.de").
        out[EXACT].append(
            _probe(
                DOMAIN, EXACT, Contact.account_id, Contact.email, Contact.name, contact_id=Contact.id
            ).where(email_domain(Contact.email) == domain[1])
        )
    if "@" in text:
        return out  # an e-mail address and nothing else
    plate = _SERIAL_SEPARATORS.sub("", text).upper()
    if len(plate) >= MIN_QUERY and plate.isascii() and plate.isalnum() and any(c.isdigit() for c in plate):
        # Typed with other separators than stored, or none: compared as the index reduces serials
        # (an exact hit here and as typed is one hit: hits are keyed by account, contact, asset).
        out[EXACT].append(
            _probe("serial", EXACT, Asset.account_id, Asset.serial, Account.name, asset_id=Asset.id)
            .join(Account, Account.id == Asset.account_id)
            .where(literal_column(SERIAL_KEY_SQL) == plate)
        )
    if " " not in text:
        # Serials are matched as typed and upper-cased (how they are printed on rating plates).
        serials = list(dict.fromkeys((text, text.upper())))
        crm_ids = serials  # CRM ids too: "crm-a100001" is read off a note as "CRM-A100001"
        asset = (Asset.account_id, Asset.serial, Account.name)
        on = Account.id == Asset.account_id
        out[EXACT].append(
            _probe("serial", EXACT, *asset, asset_id=Asset.id)
            .join(Account, on)
            .where(Asset.serial.in_(serials))
        )
        out[PREFIX].append(
            _probe("serial", PREFIX, *asset, asset_id=Asset.id)
            .join(Account, on)
            .where(or_(*(_prefix(Asset.serial, s) for s in serials)))
        )
        out[EXACT].append(
            _probe("external_id", EXACT, Account.id, Account.external_id, Account.name).where(
                Account.external_id.in_(crm_ids)
            )
        )
        # An asset's CRM id ("CRM-AS300001"), as the caller's paperwork may give it
        out[EXACT].append(
            _probe("external_id", EXACT, Asset.account_id, Asset.external_id, Account.name, asset_id=Asset.id)
            .join(Account, Account.id == Asset.account_id)
            .where(Asset.external_id.in_(crm_ids))
        )
    account = (Account.id, Account.name, Account.name)
    out[PREFIX].append(_probe("account_name", PREFIX, *account).where(names.prefix_of(Account.name_search)))
    if max(map(len, names.words), default=0) >= MIN_SUBSTRING and not phone_like:
        # Words in any order; prefix matches are excluded so the candidate budget goes to new hits.
        out[SUBSTRING].append(
            _probe("account_name", SUBSTRING, *account).where(
                _all_words(Account.name_search, names.words), ~names.prefix_of(Account.name_search)
            )
        )
        # Contact names: one trigram lookup for both ranks, told apart per row. An anchored
        # LIKE 'x%' gains nothing from trigrams (they carry no position) and would recheck
        # every contact whose surname starts with x.
        out[PREFIX].append(
            _probe(
                "contact_name", PREFIX, Contact.account_id, Contact.name, Contact.name, contact_id=Contact.id
            ).where(_all_words(Contact.name_search, names.words))
        )
        if len(names.words) >= 2:  # one word is in one name or in none
            out[SPLIT].append(_split_names(names.words))
    return out


def search(session: Session, *, q: str | None, limit: int = 20) -> SearchResult:
    """Best match first: exact phone/serial/e-mail/CRM id, then prefixes, phone tails, substrings.

    One UNION ALL per rank (each lookup capped at CANDIDATES rows). Later ranks run even when
    `limit` hits are in, so `total` counts every match, until a lookup reaches its cap: then the
    total is a lower bound (`truncated`) and the search stops after the rank that fills `limit`.
    Within a rank, hits are ordered by name (the account's, or the contact's for contact matches).
    Each customer is listed once, at its best hit (`_per_customer`); `total` counts customers.
    """
    text = validate_query(q)
    names = _NameQuery.of(text)
    probes = _probes(text, country_of(get_settings().time_zone))
    best: dict[tuple[int, int | None, int | None], _Found] = {}
    truncated = False
    for stage in STAGES:
        rank = stage[-1]
        stage_probes = [p for r in stage for p in probes[r]]
        if not stage_probes:
            continue
        parts = [select(p.limit(CANDIDATES).subquery()) for p in stage_probes]
        rows = session.execute(parts[0] if len(parts) == 1 else union_all(*parts)).all()
        per_lookup = Counter((r.field, r.rank) for r in rows)
        truncated = truncated or max(per_lookup.values(), default=0) >= CANDIDATES
        for r in rows:
            hit_rank = r.rank
            if r.field == "contact_name" and r.rank == PREFIX and not names.starts(name_key(r.value)):
                hit_rank = SUBSTRING
            hit = _Found(
                hit_rank, name_key(r.name), r.field, r.value or "", r.account_id, r.contact_id, r.asset_id
            )
            key = (hit.account_id, hit.contact_id, hit.asset_id)
            if key not in best or (hit.rank, hit.sort_name) < (best[key].rank, best[key].sort_name):
                best[key] = hit
        # Once a lookup hit its cap the total is only a lower bound anyway: with `limit` customers
        # of complete ranks in, later ranks (the costly substring scans) could not change what is shown.
        if truncated and len({h.account_id for h in best.values() if h.rank <= rank}) >= limit:
            break
    customers = _per_customer(best.values())
    if len(customers) < FUZZY_BELOW and not truncated and _name_like(text):
        customers += _similar(session, names.words, exclude={c.account_id for c in customers})
    return SearchResult(
        query=text, items=_hydrate(session, customers[:limit]), total=len(customers), truncated=truncated
    )


def _name_like(text: str) -> bool:
    """A name as typed: letters, no digits (serials, phones, CRM ids), not an e-mail address."""
    return any(c.isalpha() for c in text) and not any(c.isdigit() or c == "@" for c in text)


def _edits(words: Sequence[str], key: str) -> int | None:
    """How far the name `key` is from the typed words: each word's distance to the closest word of
    the name, summed; None when a word is further than it may be (`fuzzy.max_edits`)."""
    name_words = fuzzy.tokens(key)
    total = 0
    for word in words:
        cutoff = fuzzy.max_edits(word)
        if not cutoff:
            if word not in key:  # short words match as the exact search does: anywhere
                return None
            continue
        best = min((fuzzy.distance(word, t, cutoff) for t in name_words), default=cutoff + 1)
        if best > cutoff:
            return None
        total += best
    return total


def _similar(session: Session, words: Sequence[str], *, exclude: set[int]) -> list[_Found]:
    """Customers whose account or contact name is a near spelling of the typed words ("Johanes
    Haas" → "Johannes Haas"), closest first, none of `exclude` (found exactly already).

    The vocabulary names the stored words within a few edits of each typed word (`fuzzy`); those
    spellings are looked up as every exact words-anywhere lookup is (one round trip, two lookups
    capped at CANDIDATES), and each row is scored by its own words.
    """
    spellings = fuzzy.spellings(session, words)
    if not spellings:
        return []
    account = or_(*(_all_words(Account.name_search, s.words) for s in spellings))
    contact = or_(*(_all_words(Contact.name_search, s.words) for s in spellings))
    parts = [
        _probe("account_name", SIMILAR, Account.id, Account.name, Account.name).where(account),
        _probe(
            "contact_name", SIMILAR, Contact.account_id, Contact.name, Contact.name, contact_id=Contact.id
        ).where(contact),
    ]
    rows = session.execute(union_all(*(select(p.limit(CANDIDATES).subquery()) for p in parts))).all()
    found = []
    for r in rows:
        edits = None if r.account_id in exclude else _edits(words, name_key(r.value or ""))
        if edits:  # 0 would be an exact hit, which the exact lookups own
            found.append(
                _Found(SIMILAR, name_key(r.name), r.field, r.value, r.account_id, r.contact_id, edits=edits)
            )
    return _per_customer(found)


def _order(hit: _Found) -> tuple[int, int, str, int, int, int]:
    return (hit.rank, hit.edits, hit.sort_name, hit.account_id, hit.contact_id or 0, hit.asset_id or 0)


def _per_customer(found: Iterable[_Found]) -> list[_Found]:
    """One row per customer, best first: its best hit, plus the contact/asset its other hits name.

    The agent looks for a customer: "Praxis Dr. Özdemir" matched by its name and by its contact
    "Ayşe Özdemir" is one customer, not two. The row still carries the contact (or asset) a hit
    found, so the 360 link preselects the caller: the best hit's own, else the one contact (asset)
    the customer's other hits agree on; when they name several, none is guessed.
    """
    by_account: dict[int, list[_Found]] = {}
    for hit in sorted(found, key=_order):
        by_account.setdefault(hit.account_id, []).append(hit)  # dicts keep the best-first order
    rows = []
    for hits in by_account.values():
        best = hits[0]
        contacts = {h.contact_id for h in hits if h.contact_id}
        assets = {h.asset_id for h in hits if h.asset_id}
        own = best.contact_id if best.matched_field != DOMAIN else None  # a domain is everyone's there
        value = best.value
        if best.matched_field == DOMAIN and len(contacts) > 1:
            value = "@" + value.partition("@")[2]  # which of them is not guessed: the domain
        rows.append(
            replace(
                best,
                value=value,
                contact_id=own or (contacts.pop() if len(contacts) == 1 else None),
                asset_id=best.asset_id or (assets.pop() if len(assets) == 1 else None),
            )
        )
    return rows


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
                matched_field="email" if f.matched_field == DOMAIN else f.matched_field,
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
