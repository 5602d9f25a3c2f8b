"""Names, addresses, phone numbers and e-mail addresses for the seed (German, Munich)."""

from __future__ import annotations

import random
import re
import unicodedata

from app.desk.customers import keys as customer_keys
from app.seed.data import FIRST_NAMES, LAST_NAMES, MAIL_HOSTS, MOBILE_PREFIXES, SEGMENTS, TITLES, District

_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_LEGAL = {"gmbh", "kg", "co", "ek", "eg", "e", "k", "ag", "weg", "dr"}


def ascii_slug(text: str) -> str:
    """'Müller & Söhne GmbH' → 'mueller-soehne'; for e-mail domains and local parts."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT)).encode("ascii", "ignore").decode()
    words = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w and w not in _LEGAL]
    return "-".join(words[:2]) or "kunde"


def name_key(name: str) -> str:
    return customer_keys.name_key(name)


def phone_digits(phone: str | None) -> str | None:
    """Digits as the desk search stores them (Munich numbers are read as German)."""
    return customer_keys.phone_digits(phone, customer_keys.DEFAULT_COUNTRY)


def email_key(address: str) -> str | None:
    return customer_keys.email_key(address)


def person(rng: random.Random) -> tuple[str, str, str]:
    """(display name, first, last)."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return f"{rng.choice(TITLES)}{first} {last}", first, last


def landline(rng: random.Random, *, company: bool) -> str:
    """A Munich landline (area code 89) in one of the formats people really type."""
    sub = str(rng.randint(1_000_000 if company else 100_000, 99_999_999 if company else 9_999_999))
    if company and rng.random() < 0.3:
        sub = sub[: rng.randint(5, 6)] + "-" + rng.choice(("0", "0", "100", "21", "330"))
    plain = sub.replace("-", "")
    fmt = rng.randrange(7)
    if fmt == 0:
        return f"089 {sub}"
    if fmt == 1:
        return f"089/{sub}"
    if fmt == 2:
        return f"+49 89 {sub}"
    if fmt == 3:
        return f"(089) {plain[:4]} {plain[4:]}"
    if fmt == 4:
        return f"+49 (0)89 {sub}"
    if fmt == 5:
        return f"0049 89 {sub}"
    return f"089-{sub}"


def mobile(rng: random.Random) -> str:
    prefix, sub = rng.choice(MOBILE_PREFIXES), str(rng.randint(1_000_000, 99_999_999))
    fmt = rng.randrange(5)
    if fmt == 0:
        return f"0{prefix} {sub}"
    if fmt == 1:
        return f"+49 {prefix} {sub}"
    if fmt == 2:
        return f"0{prefix}/{sub}"
    if fmt == 3:
        return f"+49 (0) {prefix} {sub[:3]} {sub[3:]}"
    return f"0{prefix}-{sub}"


def email(rng: random.Random, first: str, last: str, domain: str | None) -> str:
    f, la = ascii_slug(first), ascii_slug(last)
    local = rng.choice((f"{f}.{la}", f"{f[0]}.{la}", f"{la}", f"{f}{la[:1]}", f"{f}.{la}"))
    return f"{local}@{domain or rng.choice(MAIL_HOSTS)}"


def address(rng: random.Random, district: District) -> tuple[str, str]:
    """('Leopoldstraße 112, 80802 München', 'Leopoldstraße')."""
    street = rng.choice(district.streets)
    number = str(rng.randint(1, 180)) + ("" if rng.random() < 0.85 else rng.choice("abc"))
    return f"{street} {number}, {rng.choice(district.postcodes)} München", street


def point(rng: random.Random, district: District, spread_km: float = 1.2) -> tuple[float, float]:
    """A location around the district centre (≈ spread_km standard deviation), inside the city."""
    lat = district.lat + rng.gauss(0, spread_km / 111.0)
    lon = district.lon + rng.gauss(0, spread_km / 74.0)
    return round(min(max(lat, 48.062), 48.248), 6), round(min(max(lon, 11.361), 11.722), 6)


def company_name(rng: random.Random, segment: str, district: District, street: str) -> str:
    template = rng.choice(SEGMENTS[segment][1])
    short_district = district.name.split("-")[0]
    return template.format(
        last=rng.choice(LAST_NAMES),
        last2=rng.choice(LAST_NAMES),
        first=rng.choice(FIRST_NAMES),
        district=district.name,
        district_short=short_district,
        street=street,
        street_short=street.replace("straße", "").replace(" Straße", "").strip() or street,
    )
