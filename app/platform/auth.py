"""Passwords (argon2), signed bearer/session tokens, revocation, login throttling and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.models import LoginAttempt, Role, User
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.errors import TooManyRequests, Unauthorized
from app.platform.passwords import DEMO_PASSWORD, check_email, check_password_policy

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


@cache
def dummy_hash() -> str:
    """A hash of a random password nobody knows: an unknown e-mail is verified against it, so it
    costs the same argon2 work as a wrong password (no account enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(24))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key or "", salt="fieldline-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id, "tv": user.token_version})


def user_from_token(session: Session, token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=get_settings().token_ttl_s)
    except SignatureExpired as exc:
        raise Unauthorized(
            "The session has expired; sign in again.", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    except BadSignature as exc:
        raise Unauthorized("Invalid token.", headers={"WWW-Authenticate": "Bearer"}) from exc
    uid = data.get("uid") if isinstance(data, dict) else None
    user = session.get(User, uid) if isinstance(uid, int) else None
    if user is None or not user.is_active:
        raise Unauthorized("Unknown or inactive user.", headers={"WWW-Authenticate": "Bearer"})
    if data.get("tv", 0) != user.token_version:
        raise Unauthorized(
            "This session was signed out; sign in again.", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


def revoke_tokens(session: Session, user: User) -> None:
    """Every token and cookie issued to this user so far stops working (all devices)."""
    user.token_version = (user.token_version or 0) + 1
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    """A new password (checked against the policy) signs the user out everywhere."""
    check_password_policy(password, email=user.email)
    user.password_hash = hash_password(password)
    revoke_tokens(session, user)


def deactivate_user(session: Session, user: User) -> None:
    user.is_active = False
    revoke_tokens(session, user)


def csrf_token(session_token: str) -> str:
    """Bound to the session cookie, so a forged form from another site cannot know it."""
    key = (get_settings().secret_key or "").encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), submitted or "")


def _recent_failures(session: Session, *conditions: ColumnElement[bool]) -> int:
    since = utcnow() - timedelta(minutes=1)
    return (
        session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(*conditions, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
        )
        or 0
    )


def authenticate(*, email: str, password: str, client: str = "") -> int:
    """Check credentials and return the user's id.

    Throttled per (client address, account) and per client address: a guesser at one address
    is stopped on one account, a sprayer at one address across many accounts, and neither can
    lock the owner out of their account from another address. An unknown e-mail costs the
    same argon2 verification as a wrong password. Runs in its own transaction, so a failed
    attempt is counted although the request fails.
    """
    email = email.strip().lower()
    client = client[:64]
    settings = get_settings()
    with unit_of_work() as session:
        pair = _recent_failures(session, LoginAttempt.email == email, LoginAttempt.client == client)
        spray = _recent_failures(session, LoginAttempt.client == client)
        if pair >= settings.login_attempts_per_minute or spray >= settings.login_client_attempts_per_minute:
            raise TooManyRequests(
                "Too many failed sign-in attempts; wait a minute and try again.",
                headers={"Retry-After": "60"},
            )
        user = session.scalar(select(User).where(User.email == email))
        # Always one verification, whatever the account: the answer time says nothing.
        matches = verify_password(user.password_hash if user is not None else dummy_hash(), password)
        # Demo users (password "demo") left in a database that now runs for real cannot sign in.
        demo_only = password == DEMO_PASSWORD and not settings.demo_mode
        ok = user is not None and user.is_active and matches and not demo_only
        session.add(LoginAttempt(email=email[:254], client=client, success=ok))
        user_id = user.id if user is not None else None
    if not ok or user_id is None:
        raise Unauthorized("Wrong e-mail or password.", headers={"WWW-Authenticate": "Bearer"})
    return user_id


def create_user(session: Session, *, email: str, name: str, role: Role | str, password: str) -> User:
    """Raises ValueError for an invalid e-mail address or a weak password."""
    email = check_email(email)
    check_password_policy(password, email=email)
    user = User(email=email, name=name, role=Role(role), password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user
