"""Sign-in and sign-out pages (cookie session for the server-rendered pages)."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.models import User
from app.platform.auth import (
    authenticate,
    check_csrf,
    csrf_token,
    issue_token,
    revoke_tokens,
    user_from_token,
)
from app.platform.config import get_settings
from app.platform.deps import SESSION_COOKIE
from app.platform.errors import TooManyRequests, Unauthorized
from app.web.shared import (
    PageDb,
    PageRoute,
    cookie_secure,
    new_login_nonce,
    render,
    require_csrf,
    safe_next,
)

router = APIRouter(route_class=PageRoute)
# A pre-session nonce: the sign-in form is bound to it, so another site cannot log a
# victim into an attacker's account (login CSRF).
LOGIN_COOKIE = "fl_login"


def _login_form(
    request: Request,
    *,
    next_url: str,
    email: str = "",
    error: str = "",
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    nonce = new_login_nonce()
    response = render(
        request,
        "login.html",
        {
            "next": next_url,
            "email": email,
            "error": error,
            "notice": notice,
            "login_csrf": csrf_token("login:" + nonce),
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        httponly=True,
        samesite="lax",
        path="/login",
        secure=cookie_secure(request),
        max_age=3600,
    )
    return response


@router.get("/login", response_model=None)
def login_page(
    request: Request, db: PageDb, next: str = "/", expired: int = 0, signed_out: int = 0
) -> Response:
    next_url = safe_next(next)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            user_from_token(db, token)
            return RedirectResponse(next_url, status_code=303)
        except Unauthorized:
            pass  # stale cookie: show the form
    notice = (
        "Your session has expired; please sign in again."
        if expired
        else "You have been signed out."
        if signed_out
        else ""
    )
    return _login_form(request, next_url=next_url, notice=notice)


@router.post("/login", response_model=None)
def login(
    request: Request,
    db: PageDb,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_url = safe_next(next)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not check_csrf("login:" + nonce, csrf):
        return _login_form(
            request,
            next_url=next_url,
            email=email,
            status_code=403,
            error="The sign-in form had expired (or cookies are blocked). Please sign in again.",
        )
    if not email.strip() or not password:
        return _login_form(
            request,
            next_url=next_url,
            email=email,
            status_code=422,
            error="Enter your e-mail address and your password.",
        )
    client = request.client.host if request.client else ""
    try:
        user_id = authenticate(email=email, password=password, client=client)
    except TooManyRequests as exc:
        refused = _login_form(request, next_url=next_url, email=email, status_code=429, error=exc.detail)
        refused.headers["Retry-After"] = "60"
        return refused
    except Unauthorized as exc:
        return _login_form(request, next_url=next_url, email=email, status_code=401, error=exc.detail)
    user = db.get_one(User, user_id)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_token(user),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
        max_age=get_settings().token_ttl_s,
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout", response_model=None)
def logout(request: Request, db: PageDb, csrf: Annotated[str, Form()] = "") -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return RedirectResponse("/login", status_code=303)
    require_csrf(request, csrf)
    # Revoke, not just forget: a copy of the cookie (or a token) stops working too. An expired
    # or already revoked cookie is simply dropped.
    with suppress(Unauthorized):
        revoke_tokens(db, user_from_token(db, token))
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
