"""Account input rules: a well-formed e-mail address and a password that is not trivially guessed.

The common-password list is small and bundled (common_passwords.txt, one a line, lower case): it
stops the passwords every guessing list starts with, not a determined offline attack.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

MIN_PASSWORD_LEN = 10
# The seeded demo users' password; accepted at sign-in only while DEMO_MODE is on.
DEMO_PASSWORD = "demo"
_COMMON = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    lines = _COMMON.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_email(email: str) -> str:
    """The normalised (lower-case) address, or ValueError saying what is wrong with it."""
    candidate = (email or "").strip()
    if not candidate:
        raise ValueError("an e-mail address is required")
    try:
        # No DNS lookup: accounts are created offline, and an intranet domain is fine.
        checked = validate_email(candidate, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        # The library's sentence ends in "." and starts upper-case: fitted into ours, once
        reason = str(exc).strip().rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        raise ValueError(f"{candidate!r} is not a valid e-mail address ({reason})") from exc
    return checked.normalized.lower()


def check_password_policy(password: str, *, email: str = "") -> None:
    """ValueError for a short, common or self-describing password."""
    if len(password) < MIN_PASSWORD_LEN:
        raise ValueError(f"the password must have at least {MIN_PASSWORD_LEN} characters")
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if lowered in common_passwords() or len(set(lowered)) <= 2:
        raise ValueError("this password is on the list of commonly used passwords; choose another")
    email = email.lower()
    if (email and email in lowered) or (local and local in lowered and len(lowered) - len(local) < 4):
        raise ValueError("the password must not be (a variation of) the e-mail address")
