"""Shared page machinery: templates, the cookie session, CSRF, and HTML error pages.

Page routes use `PageRoute`, so an AppError raised by a service or a dependency becomes a
readable HTML page (never problem+json), and a missing session becomes a redirect to /login.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.accounts.service import works_the_desk
from app.integrations.inbound_email import unmatched as unmatched_mail
from app.models import Role, User
from app.platform import i18n
from app.platform.auth import check_csrf, csrf_token, user_from_token
from app.platform.config import get_settings
from app.platform.deps import SESSION_COOKIE, DbSession
from app.platform.errors import AppError, Forbidden, Unauthorized, Unprocessable, unreadable_form
from app.platform.inputs import INT_MAX, problem_with
from app.platform.spans import span_text
from app.web.messages import labelled, names_to_labels, page_error
from app.web.navigation import DISPATCH, MANAGE, menu_for

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))
DESK_ROLES = frozenset({Role.agent.value, Role.dispatcher.value, Role.manager.value, Role.admin.value})
# Pages load nothing from other origins and run no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class CsrfRefused(Forbidden):
    title = "Form expired"


def _local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().time_zone)


def fmt_dt(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A UTC timestamp in the desk's time zone."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_local_tz()).strftime(fmt)


def fmt_at(value: datetime | str | None, tz: str, fmt: str = "%H:%M") -> str:
    """A UTC timestamp (or its ISO text, as page data carries it) in a given zone (an engineer's
    region), short by default."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(ZoneInfo(tz)).strftime(fmt)


def fmt_date(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value else "—"


def fmt_relative(value: datetime | None, now: datetime | None = None) -> str:
    """'in 3 h 20 min' / '2 d ago': how far a due time is, at a glance."""
    if value is None:
        return ""
    now = now or datetime.now(UTC)
    seconds = int((value - now).total_seconds())
    future = seconds >= 0
    minutes = abs(seconds) // 60
    if minutes < 1:
        text = "less than a minute"
    elif minutes < 48 * 60:
        text = span_text(minutes)
    else:
        text = f"{minutes // 1440} d"  # at a glance: the hours of a due time days away do not matter
    return f"in {text}" if future else f"{text} ago"


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def label(value: Any) -> str:
    """'waiting_on_customer' → 'Waiting on customer'."""
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def assignee_name(user: User | None) -> str:
    """An assignee as the desk pages name them. One who can no longer work the desk says so ("Maria
    Lopez (inactive)"), so that a ticket still left with them stands out instead of passing as taken."""
    if user is None:
        return ""
    if not user.is_active:
        return f"{user.name} (inactive)"
    return user.name if works_the_desk(user) else f"{user.name} (not on the desk)"


templates.env.filters.update(
    dt=fmt_dt, at=fmt_at, date=fmt_date, rel=fmt_relative, iso=iso, label=label, span=span_text
)
templates.env.globals["SESSION_COOKIE"] = SESSION_COOKIE
# {{ engineers|selectattr("skills", "superset", needed) }}: those who have every needed skill
templates.env.tests["superset"] = lambda have, needed: set(have or ()) >= set(needed or ())
templates.env.globals["menu_for"] = menu_for


def _session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def _menu_counts(request: Request, user: User | None) -> dict[str, int]:
    """Counts the menu shows beside an item: the unmatched mail waiting for the desk (one indexed
    count per desk page)."""
    db: Session | None = getattr(request.state, "page_db", None)
    if user is None or db is None or user.role not in DESK_ROLES:
        return {}
    try:
        return {"unmatched": unmatched_mail.held_count(db)}
    except SQLAlchemyError:  # a page about a failed transaction still renders, without the count
        return {}


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a template with the signed-in user and their CSRF token available."""
    ctx: dict[str, Any] = {"user": getattr(request.state, "page_user", None)}
    token = _session_token(request)
    ctx["csrf"] = csrf_token(token) if token and ctx["user"] is not None else ""
    ctx["menu_counts"] = _menu_counts(request, ctx["user"])
    ctx.update(context or {})
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers.update({**SECURITY_HEADERS, "Cache-Control": "no-store", **(headers or {})})
    return response


def error_page(
    request: Request, status_code: int, title: str, message: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A readable error page, with a way back to the page the person came from (same site only):
    a refused filter or form should not leave "Start page" as the only way on. Under the survey
    prefix a customer reads it: see `_customer_error_page`."""
    if request.url.path.startswith(SURVEY_PREFIX):
        return _customer_error_page(request, status_code, headers)
    referer = urlsplit(request.headers.get("referer", ""))
    came_from = referer.path + (f"?{referer.query}" if referer.query else "")
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = None
    if referer.netloc == request.url.netloc and came_from != here:
        back = safe_next(came_from, "") or None
    context = {"title": title, "message": message, "back": back}
    return render(request, "error.html", context, status_code=status_code, headers=headers)


SURVEY_PREFIX = "/survey/"  # the customer's survey addresses (app/web/survey.py): no login
# Generic error pages a customer may meet there, by status: the catalogue's survey.page.<key>_*.
_CUSTOMER_ERRORS = {404: "invalid", 422: "unreadable"}


def _customer_error_page(
    request: Request, status_code: int, headers: Mapping[str, str] | None
) -> HTMLResponse:
    """A generic error on a survey address (an unknown path, an unreadable form body) in the
    browser's language, as the busy page: no account is known here. The staff wording (field names,
    "Start page", the menu) means nothing to a customer, so the text is the catalogue's."""
    language = i18n.negotiate(request.headers.get("accept-language", ""))
    key = _CUSTOMER_ERRORS.get(status_code, "error")
    context = {
        "title": i18n.text(language, f"survey.page.{key}_title"),
        "message": i18n.text(language, f"survey.page.{key}_text"),
        "customer": True,
        "page_lang": language,
        "skip_text": i18n.text(language, "survey.page.skip"),
    }
    # as on the survey pages: the token in the address must not leak to another site
    private = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", **(headers or {})}
    return render(request, "error.html", context, status_code=status_code, headers=private)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: '/desk/x' yes, '//evil.example' or 'https://…' no."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def login_redirect(request: Request, message: str = "") -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        # A form posted after the session ended: come back to the page it was on, not to
        # the form's action (which only answers POST).
        referer = urlsplit(request.headers.get("referer", ""))
        same_site = referer.netloc == request.url.netloc
        target = (referer.path + (f"?{referer.query}" if referer.query else "")) if same_site else "/"
    url = f"/login?next={quote(target, safe='')}"
    if message:
        url += "&expired=1"
    return RedirectResponse(url, status_code=303)


def _rollback(request: Request) -> None:
    """An error page must not commit half of what the handler flushed."""
    db: Session | None = getattr(request.state, "page_db", None)
    if db is not None:
        db.rollback()


class PageRoute(APIRoute):
    """Turns errors into HTML pages for every route of a pages router."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as exc:
                return login_redirect(request, exc.message)
            except AppError as exc:
                _rollback(request)
                # a person reads "Check your input", not the HTTP reason "Unprocessable content"
                title = "Check your input" if exc.status_code == 422 else exc.title
                return error_page(request, exc.status_code, title, page_error(exc))
            except StaleDataError:
                _rollback(request)
                return error_page(
                    request,
                    409,
                    "Changed by someone else",
                    "Someone else changed this record at the same time; nothing of "
                    "yours was saved. Go back, reload and try again.",
                )
            except RequestValidationError as exc:
                _rollback(request)
                if all(e["loc"][:1] == ("path",) for e in exc.errors()):
                    return page_not_found(request)  # /field/visits/abc: no such page, not "check your input"
                fields = labelled((".".join(str(p) for p in e["loc"][1:]), e["msg"]) for e in exc.errors())
                return error_page(request, 422, "Check your input", fields)
            except StarletteHTTPException as exc:
                if (unreadable := unreadable_form(request, exc)) is None:
                    raise
                _rollback(request)
                message = f"The form {unreadable}. Nothing was saved: reload the page and send it again."
                return error_page(request, 422, "Check your input", message)

        return page_handler


def page_db(request: Request, db: DbSession) -> Session:
    request.state.page_db = db
    return db


PageDb = Annotated[Session, Depends(page_db)]


def page_user(request: Request, db: PageDb) -> User:
    token = _session_token(request)
    if not token:
        raise LoginRequired()
    try:
        user = user_from_token(db, token)
    except Unauthorized as exc:
        raise LoginRequired(exc.detail) from exc
    request.state.page_user = user
    return user


PageUser = Annotated[User, Depends(page_user)]


def desk_user(request: Request, user: PageUser) -> User:
    if user.role not in DESK_ROLES:
        raise Forbidden(
            "The service desk is for agents, dispatchers and managers. Your account "
            f"({user.email}, role {user.role}) cannot open it."
        )
    return user


DeskPageUser = Annotated[User, Depends(desk_user)]


def roles_only(roles: frozenset[str], refusal: str) -> Callable[[User], User]:
    """The dependency of a page for ``roles`` only. Anyone else gets a 403 page saying `refusal`,
    whose "{account}" names who they are: "Teams are managed by managers and admins. {account}
    cannot change them." """

    def allowed_user(user: PageUser) -> User:
        if user.role not in roles:
            raise Forbidden(refusal.format(account=f"Your account ({user.email}, role {user.role})"))
        return user

    return allowed_user


def managers_only(refusal: str) -> Callable[[User], User]:
    return roles_only(MANAGE, refusal)


def dispatchers_only(refusal: str) -> Callable[[User], User]:
    """Dispatchers, managers and admins (the board, engineer profiles)."""
    return roles_only(DISPATCH, refusal)


def require_csrf(request: Request, submitted: str | None) -> None:
    """State-changing forms must carry the token bound to this session cookie."""
    token = _session_token(request)
    if not token or not check_csrf(token, submitted):
        raise CsrfRefused(
            "This form has expired or did not come from Fieldline, so it was not "
            "accepted. Go back, reload the page and submit it again."
        )


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


def cookie_secure(request: Request) -> bool:
    configured = get_settings().session_cookie_secure
    return request.url.scheme == "https" if configured is None else configured


def nl2br(text: str) -> Markup:
    """Keep the line breaks of a message, escaping everything else."""
    escaped = Markup.escape(text)
    return Markup("<br>").join(escaped.split("\n"))


# A typed coordinate (the what-if, the engineer profile): 48.137, -11, 48,137 (a German keyboard's
# decimal comma), .5; nothing else reads as one
COORDINATE = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")


def tel_href(number: str) -> str:
    """'+49 (89) 123-45' → '+498912345': what a phone's dialler expects after tel:.

    The "(0)" of '+49 (0)89 …' is the trunk prefix dialled only inside the country; after a
    country code it must go, or the number dialled is +49 089 … and fails.
    """
    if number.lstrip().startswith(("+", "00")):
        number = _TRUNK_ZERO.sub("", number)
    kept = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return kept[:1] + kept[1:].replace("+", "")


templates.env.filters.update(nl2br=nl2br, tel_href=tel_href)


def field_errors(exc: AppError) -> dict[str, str]:
    """{field: message} from a service error, for showing next to the inputs (other fields named
    by their labels: "must be after “Appointment from”", not "appointment_start_at")."""
    return {str(e.get("field", "")): names_to_labels(str(e.get("message", ""))) for e in exc.errors or []}


def optional_id(value: str | None) -> int | None:
    """A <select> value: '' means none; anything not a number is refused like a bad id."""
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdecimal() or int(value) > INT_MAX:  # a forged id must not overflow the column
        raise ValueError(value)
    return int(value)


def local_to_utc(value: str) -> datetime | None:
    """An <input type=datetime-local> value, read in the desk's time zone."""
    value = value.strip()
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_local_tz())
    if problem := problem_with(parsed):  # year 1 or 9999 would overflow further on
        raise ValueError(problem)
    return parsed.astimezone(UTC)


def form_version(value: str) -> int:
    """A form's hidden version (an edit's base); anything else is a page to reload, not a 500."""
    if not value.isdecimal() or len(value) > 9:
        raise invalid({"version": "reload the page and try again"})
    return int(value)


def parse_day(value: str) -> date | None:
    """A YYYY-MM-DD form or query value; blank: None. Raises ValueError with the reason, also for a
    day outside DATE_MIN..DATE_MAX: the day's neighbours (a plan's window, a route's shifts)
    overflow near year 1 and 9999."""
    value = value.strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a date (YYYY-MM-DD)") from None
    if problem := problem_with(day):
        raise ValueError(f"the day {problem}")
    return day


# A time of day as people type it: 8:00 or 08:00 (what a time input sends, also with seconds and
# milliseconds: 08:00:00.000; a fraction of a second is dropped), 13.30 (once the field is plain
# text, after a refusal), 1330 or 133000 (ISO 8601's basic format) and 8 or 13 (the hour). Nothing
# with a date, a "T" or a UTC offset: a form's times are wall-clock times in the region's zone.
_CLOCK = re.compile(
    r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,]\d{1,6})?)?)?"
    r"|(?P<hh>\d{2})(?P<mm>\d{2})(?P<ss>\d{2})?"
)


def parse_clock(value: str) -> time:
    """A time of day as typed (`_CLOCK`: "8:00", "13.30", "13:30:00", "1330", "13"). Raises
    ValueError saying so for anything else, 25:00 and 12:60 too; blank is the caller's to read
    (no time, or midnight), so it is refused here."""
    typed = value.strip()
    if match := _CLOCK.fullmatch(typed):
        hour, minute, second = match["h"] or match["hh"], match["m"] or match["mm"], match["s"] or match["ss"]
        try:
            return time(int(hour), int(minute or 0), int(second or 0))
        except ValueError:  # 25:00, 12:60
            pass
    raise ValueError(f"“{typed[:20]}” is not a time of day, e.g. 13:30 or 13.30")


def too_long(values: Mapping[str, str], limits: Mapping[str, int]) -> dict[str, str]:
    return {
        name: f"at most {limit} characters (you have {len(values.get(name) or '')})"
        for name, limit in limits.items()
        if len(values.get(name) or "") > limit
    }


def invalid(errors: Mapping[str, str]) -> Unprocessable:
    """A 422 for input the page checked itself, in the shape services use."""
    detail = labelled(errors.items())
    return Unprocessable(detail, errors=[{"field": k, "message": v} for k, v in errors.items()])


def page_for_a_form_address(request: Request) -> Response:
    """A GET of a form's address (/desk/tickets/7/work-orders: the address bar shows it after a
    refused form, and a reload or a bookmark asks for it): the nearest page above it, instead of
    a problem+json 405."""
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 1:
        parts.pop()
        candidate = "/".join(parts) or "/"
        scope = {"type": "http", "path": candidate, "method": "GET"}
        # FULL: the path and the method match (PARTIAL is a path with other methods only)
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.routes):
            return RedirectResponse(candidate, status_code=303)
    return page_not_found(request)


def page_not_found(request: Request) -> HTMLResponse:
    """Any unknown address outside /api/ (/nope, /admin, /desk/x): a readable page, not problem+json."""
    return error_page(
        request,
        404,
        "Page not found",
        f"There is no page at {request.url.path}. The menu above leads to the pages you can use.",
    )
