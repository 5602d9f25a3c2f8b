"""Addresses → coordinates through a configurable geocoding service, over geopy (docs/customers.md
"Geocoding", docs/deploy.md for the settings).

GEOCODER=none (the default) geocodes nothing: a site then needs the CRM's coordinates. `nominatim`
and `photon` are both OpenStreetMap geocoders a company can run itself; GEOCODER_URL names the
server (default: the public one, whose policy asks for at most one request a second and a
user agent naming the application). Coordinates sent explicitly always win; only a site created
or moved to a new address without them is geocoded (app/desk/customers/records.py, the CSV
import's site rows).

A geocoder that does not answer (time-out, refused connection, a 5xx, a quota) is
`GeocoderDown`: a 503 problem+json with Retry-After in the API, the line's error in an import; an
address it does not know is `None` from `locate`, which callers turn into a 422 naming `address`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim, Photon

from app.platform.config import Settings, get_settings
from app.platform.errors import ServiceUnavailable, Unprocessable

KINDS = ("none", "nominatim", "photon")
_DEFAULT_URLS = {"nominatim": "https://nominatim.openstreetmap.org", "photon": "https://photon.komoot.io"}
RETRY_AFTER_S = 60
NOT_FOUND = "address not found by the geocoder"

Coordinates = tuple[float, float]
Lookup = Callable[[str], Coordinates | None]


class GeocoderDown(ServiceUnavailable):
    """The geocoder did not answer; the caller may retry, or send latitude and longitude."""

    title = "Geocoder unavailable"


def enabled(settings: Settings | None = None) -> bool:
    return (settings or get_settings()).geocoder != "none"


def _service(settings: Settings) -> Any:
    """geopy's client for the configured service. The URL's path is kept (a server behind a
    reverse proxy at https://gis.example/nominatim), as geopy puts its /search after the domain."""
    url = urlsplit(settings.geocoder_url or _DEFAULT_URLS[settings.geocoder])
    domain = (url.netloc + url.path).rstrip("/")
    cls = Nominatim if settings.geocoder == "nominatim" else Photon
    return cls(
        domain=domain,
        scheme=url.scheme or "https",
        timeout=settings.geocoder_timeout_s,
        user_agent=settings.geocoder_user_agent,
    )


def _down(address: str, exc: GeopyError) -> GeocoderDown:
    return GeocoderDown(
        f"The geocoder did not answer ({type(exc).__name__}) for the address {address!r}; nothing "
        f"was changed. Try again in a minute, or send latitude and longitude.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def lookup(*, min_delay_s: float = 0.0, settings: Settings | None = None) -> Lookup:
    """address → (latitude, longitude), or None when the geocoder knows no such address; raises
    GeocoderDown when it does not answer. `min_delay_s` spaces the calls (geopy's RateLimiter:
    an import's rows; a public Nominatim allows one a second). No retries: a bulk import must
    not wait out a dead server row after row."""
    settings = settings or get_settings()
    if not enabled(settings):
        raise RuntimeError("GEOCODER=none: nothing to look addresses up with")
    service = _service(settings)
    geocode = RateLimiter(
        service.geocode, min_delay_seconds=min_delay_s, max_retries=0, swallow_exceptions=False
    )

    def _locate(address: str) -> Coordinates | None:
        try:
            found = geocode(address, exactly_one=True)
        except GeopyError as exc:
            raise _down(address, exc) from exc
        return None if found is None else (float(found.latitude), float(found.longitude))

    return _locate


def coordinates(address: str) -> Coordinates:
    """One address's coordinates for an API write: 422 naming `address` when the geocoder knows
    none (or the address is empty), GeocoderDown (503) when it does not answer."""
    found = lookup()(address) if address.strip() else None
    if found is None:
        message = (
            NOT_FOUND
            if address.strip()
            else "needed to find the coordinates (or send latitude and longitude)"
        )
        raise Unprocessable(f"address: {message}", errors=[{"field": "address", "message": message}])
    return found
