"""Typed FastAPI dependencies: the database session, the current user, role checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from app.models import Role, User
from app.platform.auth import user_from_token
from app.platform.db import unit_of_work
from app.platform.errors import Forbidden, Unauthorized

SESSION_COOKIE = "fl_session"
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_db() -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with unit_of_work() as session:
        yield session


# scope="function": commit when the endpoint returns, before the response is sent, so a client
# that reads right after a write (or follows a redirect) sees it, and a failed commit is an error.
DbSession = Annotated[Session, Depends(get_db, scope="function")]


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_current_user(request: Request, db: DbSession, token: Annotated[str | None, Depends(oauth2)]) -> User:
    if not token:
        token = request.cookies.get(SESSION_COOKIE)
        if token and request.method not in SAFE_METHODS:
            # A browser attaches the cookie to any site's request (a text/plain POST needs no
            # preflight), so the cookie may only read: the pages' scripts only read the API, and
            # every change through the API needs a bearer token, which no other site can send.
            raise Forbidden(
                "Changes through the API need a bearer token (Authorization: Bearer …); "
                "the page session cookie only allows reading.",
                headers={"WWW-Authenticate": "Bearer"},
            )
    if not token:
        raise Unauthorized("Sign in first.", headers={"WWW-Authenticate": "Bearer"})
    user = user_from_token(db, token)
    request.state.user = user
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = {r.value for r in roles} | {Role.admin.value}

    def _check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}.")
        return user

    return _check


DeskUser = Annotated[User, Depends(require_roles(Role.agent, Role.dispatcher, Role.manager))]
DispatchUser = Annotated[User, Depends(require_roles(Role.dispatcher, Role.manager))]
ManagerUser = Annotated[User, Depends(require_roles(Role.manager))]
AdminUser = Annotated[User, Depends(require_roles())]
