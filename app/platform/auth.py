"""Passwords (argon2), signed bearer/session tokens, login throttling and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import LoginAttempt, Role, User
from app.platform.config import get_settings
from app.platform.db import unit_of_work, utcnow
from app.platform.errors import TooManyRequests, Unauthorized

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key or "", salt="fieldline-token")


def issue_token(user: User) -> str:
    return _serializer().dumps({"uid": user.id})


def user_from_token(session: Session, token: str) -> User:
    try:
        data = _serializer().loads(token, max_age=get_settings().token_ttl_s)
    except SignatureExpired as exc:
        raise Unauthorized(
            "The session has expired; sign in again.", headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    except BadSignature as exc:
        raise Unauthorized("Invalid token.", headers={"WWW-Authenticate": "Bearer"}) from exc
    user = session.get(User, data.get("uid"))
    if user is None or not user.is_active:
        raise Unauthorized("Unknown or inactive user.", headers={"WWW-Authenticate": "Bearer"})
    return user


def csrf_token(session_token: str) -> str:
    """Bound to the session cookie, so a forged form from another site cannot know it."""
    key = (get_settings().secret_key or "").encode()
    return hmac.new(key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def check_csrf(session_token: str, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(session_token), submitted or "")


def authenticate(*, email: str, password: str, client: str = "") -> int:
    """Check credentials and return the user's id; throttled per e-mail.

    Runs in its own transaction, so a failed attempt is counted although the request fails.
    """
    email = email.strip().lower()
    limit = get_settings().login_attempts_per_minute
    with unit_of_work() as session:
        recent = session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.email == email,
                LoginAttempt.success.is_(False),
                LoginAttempt.at >= utcnow() - timedelta(minutes=1),
            )
        )
        if (recent or 0) >= limit:
            raise TooManyRequests(
                "Too many failed sign-in attempts; wait a minute and try again.",
                headers={"Retry-After": "60"},
            )
        user = session.scalar(select(User).where(User.email == email))
        ok = user is not None and user.is_active and verify_password(user.password_hash, password)
        session.add(LoginAttempt(email=email, client=client[:64], success=ok))
        user_id = user.id if user is not None else None
    if not ok or user_id is None:
        raise Unauthorized("Wrong e-mail or password.", headers={"WWW-Authenticate": "Bearer"})
    return user_id


def create_user(session: Session, *, email: str, name: str, role: Role | str, password: str) -> User:
    if len(password) < 8 and not get_settings().demo_mode:
        raise ValueError("password must have at least 8 characters")
    user = User(
        email=email.strip().lower(), name=name, role=Role(role), password_hash=hash_password(password)
    )
    session.add(user)
    session.flush()
    return user
