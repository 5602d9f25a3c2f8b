"""Standard-Webhooks signatures: what Fieldline sends and how a receiver checks it.

Every request carries three headers:

    webhook-id:        the message id (stable across retries: receivers de-duplicate on it)
    webhook-timestamp: unix seconds when this attempt was sent
    webhook-signature: "v1,<base64 HMAC-SHA256 of '{id}.{timestamp}.{body}'>"

The HMAC key is the base64-decoded part of the subscription secret after "whsec_". This module
has no database or web imports, so a receiver written in Python can copy it as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300  # refuse timestamps further than this from now: stops replays of old requests


def new_secret() -> str:
    """A fresh subscription secret: "whsec_" + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret is not 'whsec_' + base64") from exc


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header value for one request."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers_for(secret: str, message_id: str, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, message_id, ts, body),
    }


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: int = TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `body` with these headers was signed with `secret` recently enough.

    Pass the raw request body (bytes as received, before any JSON parsing). Header names are
    matched case-insensitively; a signature header may list several space-separated signatures
    (during a secret rotation) and one match suffices.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    message_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    given = lower.get("webhook-signature")
    if not message_id or not stamp or not given:
        return False
    try:
        ts = int(stamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    try:
        expected = sign(secret, message_id, ts, body).encode()
    except ValueError:
        return False
    return any(hmac.compare_digest(expected, s.encode()) for s in given.split() if s.startswith("v1,"))
