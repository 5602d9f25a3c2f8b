"""Signed, expiring links for survey e-mails (itsdangerous).

A token names one survey and one purpose ("answer" or "unsubscribe"); it is signed with the
app's secret, so a changed survey id or purpose fails verification. The expiry is checked
against the signing time, which is the time the mail was composed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.platform.config import get_settings

Purpose = Literal["answer", "unsubscribe"]
_SALT = "fieldline.survey.v1"  # a token for another feature can never pass as a survey token


class BadToken(Exception):
    """The link is broken or was tampered with (`expired` False) or is too old (`expired` True)."""

    def __init__(self, expired: bool, survey_id: int | None = None) -> None:
        super().__init__("expired" if expired else "invalid")
        self.expired = expired
        # An expired token's signature was good: its survey is known (the page speaks the
        # customer's language); never set for a tampered one.
        self.survey_id = survey_id


@dataclass(frozen=True, slots=True)
class Claim:
    survey_id: int
    purpose: Purpose


def _serializer() -> URLSafeTimedSerializer:
    secret = get_settings().secret_key
    assert secret, "settings refuse to start without a secret key"
    return URLSafeTimedSerializer(secret, salt=_SALT)


def make(survey_id: int, purpose: Purpose) -> str:
    return _serializer().dumps({"s": survey_id, "p": purpose})


def read(token: str, *, max_age_s: int) -> Claim:
    """The claim in ``token``, or :class:`BadToken`."""
    serializer = _serializer()
    try:
        data = serializer.loads(token, max_age=max_age_s)
    except SignatureExpired as exc:
        raise BadToken(expired=True, survey_id=_survey_id(serializer, exc.payload)) from None
    except BadSignature:
        raise BadToken(expired=False) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("s"), int)
        or data.get("p") not in ("answer", "unsubscribe")
    ):
        raise BadToken(expired=False)
    return Claim(data["s"], data["p"])


def _survey_id(serializer: URLSafeTimedSerializer, payload: object) -> int | None:
    try:
        data = serializer.load_payload(payload) if isinstance(payload, bytes) else None
    except BadSignature:  # BadPayload: not the JSON we signed
        return None
    return data["s"] if isinstance(data, dict) and isinstance(data.get("s"), int) else None
