"""Engineer profiles for the people who plan: `/admin/engineers` lists the profiles and the engineer
accounts that have none yet; `/admin/engineers/new?account=` creates one, `/admin/engineers/{id}`
edits it (name, sign-in account, region, skills, home base, weekly shifts, in planning or not).

The roles are the API's for writing engineers (dispatchers, managers, admins). The page only turns
form text into the API's bodies (`engineer_form.parse`: `EngineerCreate` / `EngineerUpdate`, so the
same ranges and lengths) and calls the same service functions, plus `check_skills` (a typo'd skill would never
match a visit). A decimal comma is read as on the board's what-if ("48,137"). Plain form POSTs with
the CSRF token; an edit carries the profile's hidden version like the API's If-Match: a stale one
is a 409 that keeps what was typed. A refused form comes back with what was typed, a message under
each field, 422.

A new profile's form carries a one-time key (the field pages' `idempotent_create`): a second click
on Create shows the profile the first one made instead of making another; an account's profile is
also unique in the database, one without an account (a subcontractor) only by this key. The
profile page also lists and edits the engineer's absences and on-call cover (`engineer_absences`)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from contextlib import suppress
from datetime import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.accounts import service as accounts
from app.field.engineers import service as engineers
from app.field.engineers.schemas import EngineerCreate, EngineerUpdate
from app.models import Engineer, Region, Role, Shift, StockLevel, User
from app.platform.errors import AppError, Unprocessable
from app.platform.http import idempotent_create
from app.web import engineer_absences as calendar
from app.web.engineer_form import DAYS, FORM_ORDER, LABELS, SHIFT_FIELDS, SHIFT_PARTS, hhmm, parse
from app.web.messages import page_error
from app.web.shared import (
    PageDb,
    PageRoute,
    dispatchers_only,
    form_version,
    invalid,
    optional_id,
    parse_clock,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
PAGE = 100
DONE = {
    "created": "The engineer profile is created, with an empty van. Planning can now give them visits.",
    "saved": "The engineer profile is saved.",
    "unchanged": "Nothing to save: no field was changed.",
}
STALE = (
    "Someone else changed this engineer profile after you opened it, so nothing of yours was saved. "
    "The form keeps what you typed; the profile as it is saved now is shown above it. Save again to "
    "put your values over theirs."
)
TAKEN = "this account got an engineer profile meanwhile (someone else created it); reload the list"
ECHO_MAX = 2100  # what a refused form shows back: 50 skills of 40 characters fit


EngineersUser = Annotated[
    User,
    Depends(
        dispatchers_only(
            "Engineer profiles are managed by dispatchers, managers and admins. {account} cannot change them."
        )
    ),
]


async def typed_form(request: Request) -> dict[str, str]:
    """The posted fields as text: the form has 28 time fields, too many to declare one by one. So
    the platform's check of declared fields does not see them: a NUL byte, which PostgreSQL text
    cannot hold (a 500 there, fine on SQLite), is refused here as it refuses it (app/platform/inputs)."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    nul = [k for k, v in fields.items() if "\x00" in v or "\x00" in k]
    if nul:
        raise RequestValidationError(
            [
                {"loc": ("body", k), "msg": "must not contain a NUL character", "type": "value_error"}
                for k in nul
            ]
        )
    return fields


TypedForm = Annotated[dict[str, str], Depends(typed_form)]


def _summary(shifts: Sequence[Shift]) -> str:
    """'Mon–Fri 08:00–17:00': consecutive days with the same hours together."""
    groups: list[tuple[int, int, str]] = []
    for s in sorted(shifts, key=lambda s: s.weekday):
        hours = f"{s.starts:%H:%M}–{s.ends:%H:%M}"
        if groups and groups[-1][1] == s.weekday - 1 and groups[-1][2] == hours:
            groups[-1] = (groups[-1][0], s.weekday, hours)
        else:
            groups.append((s.weekday, s.weekday, hours))
    day = [name[:3] for _, name in DAYS]
    return (
        ", ".join(f"{day[a]}{'–' + day[b] if b > a else ''} {hours}" for a, b, hours in groups) or "no shifts"
    )


def _van_text(db: Session, engineer: Engineer) -> str:
    """ "Van of Ida Iversen: 3 parts, 12 pieces" (on hand, reserved ones included); the stock
    location's id means nothing to the people who plan."""
    van = engineers.van_location(db, engineer.id)
    if van is None:
        return "none"
    parts, pieces = db.execute(
        select(func.count(), func.coalesce(func.sum(StockLevel.quantity), 0)).where(
            StockLevel.location_id == van.id, StockLevel.quantity > 0
        )
    ).one()
    if not parts:
        return f"Van of {engineer.name}: empty"
    return (
        f"Van of {engineer.name}: {parts} part{'s' if parts != 1 else ''}, "
        f"{pieces} piece{'s' if pieces != 1 else ''}"
    )


def _accounts_without_profile(db: Session) -> list[User]:
    profiled = select(Engineer.user_id).where(Engineer.user_id.is_not(None))
    stmt = select(User).where(User.role == Role.engineer.value, User.id.not_in(profiled))
    return list(db.scalars(stmt.order_by(User.is_active.desc(), User.name, User.id)))


@router.get("/admin/engineers")
def engineer_list(request: Request, db: PageDb, user: EngineersUser, cursor: str = "") -> HTMLResponse:
    rows, next_cursor = engineers.list_engineers(db, cursor=cursor or None, limit=PAGE)
    ids = [e.id for e in rows]
    shifts: dict[int, list[Shift]] = {i: [] for i in ids}
    for s in db.scalars(select(Shift).where(Shift.engineer_id.in_(ids))):
        shifts[s.engineer_id].append(s)
    owner_ids = [e.user_id for e in rows if e.user_id is not None]
    emails = dict(db.execute(select(User.id, User.email).where(User.id.in_(owner_ids))).tuples().all())
    regions = {r.id: r.name for r in db.scalars(select(Region))}
    context = {
        "nav": "engineers",
        "rows": [
            (e, emails.get(e.user_id or 0), regions.get(e.region_id), _summary(shifts[e.id])) for e in rows
        ],
        "without_profile": _accounts_without_profile(db),
        "next_cursor": next_cursor,
        "flash": DONE.get(request.query_params.get("done", ""), ""),
    }
    return render(request, "admin/engineers.html", context)


def _typed_from(engineer: Engineer, shifts: Sequence[Shift]) -> dict[str, str]:
    typed = {
        "name": engineer.name,
        "user_id": str(engineer.user_id or ""),
        "region_id": str(engineer.region_id),
        "skills": ", ".join(engineer.skills or []),
        "home_latitude": f"{engineer.home_latitude:g}",
        "home_longitude": f"{engineer.home_longitude:g}",
        "active": "yes" if engineer.active else "no",
    }
    for s in shifts:
        for part in SHIFT_PARTS:
            value: time | None = getattr(s, part)
            typed[f"{part}_{s.weekday}"] = (
                value.isoformat("minutes" if not value.second else "seconds") if value else ""
            )
    return typed


def _new_typed(owner: User | None) -> dict[str, str]:
    """A new profile starts with the account's name and a common week (Mon–Fri, 08:00–17:00)."""
    typed = {"name": owner.name if owner else "", "user_id": str(owner.id) if owner else "", "active": "yes"}
    typed["key"] = secrets.token_urlsafe(16)  # one-time: a second click does not make a second profile
    for day in range(5):
        typed |= {f"starts_{day}": "08:00", f"ends_{day}": "17:00"}
        typed |= {f"break_starts_{day}": "12:00", f"break_ends_{day}": "12:30"}
    return typed


def _form_view(
    request: Request,
    db: Session,
    engineer: Engineer | None,
    typed: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    alert: str = "",
    status_code: int = 200,
    refused: calendar.Outcome | None = None,
) -> HTMLResponse:
    errors = errors or {}
    if errors and not alert:  # in the form's order; a shift's message names its day already
        listed = sorted(errors.items(), key=lambda kv: FORM_ORDER.get(kv[0], len(FORM_ORDER)))
        alert = "Nothing was saved. " + "; ".join(
            f"{LABELS[k]}: {v}" if k in LABELS and k not in SHIFT_FIELDS else v for k, v in listed
        )
    echo = {k: v[:ECHO_MAX] for k, v in typed.items()}
    for name in SHIFT_FIELDS & echo.keys():  # a time input shows "08:00" but blanks "8:00" or "8.00"
        with suppress(ValueError):  # unreadable: left as typed, its message quotes it
            echo[name] = hhmm(parse_clock(echo[name]))
    candidates = _accounts_without_profile(db)
    account = None
    if engineer is not None:
        account = db.get(User, engineer.user_id) if engineer.user_id else None
        if account is not None:
            candidates.insert(0, account)
    shifts = engineers.shifts_of(db, engineer.id) if engineer else []
    context = {
        "nav": "engineers",
        "engineer": engineer,
        "account": account,
        "region": db.get(Region, engineer.region_id) if engineer else None,
        "shift_summary": _summary(shifts),
        "van": _van_text(db, engineer) if engineer else "",
        "accounts": candidates,
        "regions": list(db.scalars(select(Region).order_by(Region.name))),
        "known_skills": engineers.known_skills(db),
        "days": DAYS,
        "form": {"input": echo, "error": alert, "fields": errors},
        "flash": DONE.get(request.query_params.get("done", ""), "")
        or (calendar.flash(request.query_params, engineer) if engineer else ""),
        "calendar": calendar.section(db, engineer, refused) if engineer else None,
    }
    return render(request, "admin/engineers_form.html", context, status_code=status_code)


@router.get("/admin/engineers/new", response_model=None)
def engineer_new(request: Request, db: PageDb, user: EngineersUser, account: str = "") -> Response:
    try:
        owner_id = optional_id(account)
    except ValueError:
        raise invalid({"account": "an account's number, as the engineers list links it"}) from None
    owner = accounts.get_user(db, owner_id) if owner_id is not None else None
    errors = {}
    if owner is not None:
        existing = engineers.engineer_for_user(db, owner)
        if existing is not None:  # a stale link (the user page, a bookmark): the profile it asked for
            return RedirectResponse(f"/admin/engineers/{existing.id}", status_code=303)
        if owner.role != Role.engineer.value:
            errors["user_id"] = (
                f"{owner.name}'s account has the role {owner.role}; an admin gives it the role engineer "
                "on the users page first"
            )
    return _form_view(request, db, None, _new_typed(owner), errors=errors)


@router.post("/admin/engineers", response_model=None)
def engineer_create(request: Request, db: PageDb, user: EngineersUser, form: TypedForm) -> Response:
    require_csrf(request, form.get("csrf"))
    parsed = parse(db, form, EngineerCreate)
    status, alert, created = 422, "", None
    if not parsed.errors:
        values = {k: v for k, v in parsed.body.items() if k != "shifts"}

        def _create() -> tuple[dict[str, int], dict[str, str]]:
            engineer = engineers.create_engineer(db, values=values, shifts=parsed.body["shifts"], actor=user)
            db.flush()
            return {"id": engineer.id}, {}

        try:  # a second click with the same key replays the first answer: the profile made then
            answer = idempotent_create(
                db, request, user, parsed.body, _create, status_code=201, key=form.get("key") or None
            )
            created = json.loads(bytes(answer.body))["id"]
        except AppError as exc:
            db.rollback()
            parsed.add_service_errors(db, exc)
            status = exc.status_code
            if not exc.errors:  # the form key: being used by a first click still running, or used
                alert = "Nothing was saved. " + page_error(exc)  # for another form (a fresh one then)
                if isinstance(exc, Unprocessable):
                    form = form | {"key": secrets.token_urlsafe(16)}
        except IntegrityError:  # two people created a profile for one account at the same moment
            db.rollback()
            parsed.errors["user_id"], status = TAKEN, 409
    if created is None:
        return _form_view(request, db, None, form, errors=parsed.errors, alert=alert, status_code=status)
    db.commit()
    return RedirectResponse(f"/admin/engineers/{created}?done=created", status_code=303)


@router.get("/admin/engineers/{engineer_id}")
def engineer_page(engineer_id: int, request: Request, db: PageDb, user: EngineersUser) -> HTMLResponse:
    engineer = engineers.get_engineer(db, engineer_id)
    return _form_view(request, db, engineer, _typed_from(engineer, engineers.shifts_of(db, engineer.id)))


@router.post("/admin/engineers/{engineer_id}", response_model=None)
def engineer_save(
    engineer_id: int, request: Request, db: PageDb, user: EngineersUser, form: TypedForm
) -> Response:
    require_csrf(request, form.get("csrf"))
    engineer = engineers.get_engineer(db, engineer_id)
    base = form_version(form.get("version", ""))
    parsed = parse(db, form, EngineerUpdate, engineer_id)
    if parsed.errors:
        return _form_view(request, db, engineer, form, errors=parsed.errors, status_code=422)
    if base != engineer.version:  # the API's If-Match, from the hidden field
        return _stale(request, db, engineer_id, form)
    values = {k: v for k, v in parsed.body.items() if k != "shifts"}
    try:
        engineers.update_engineer(
            db, engineer=engineer, values=values, shifts=parsed.body["shifts"], actor=user
        )
        db.flush()
    except StaleDataError:  # saved by someone else between our read and our write
        db.rollback()
        return _stale(request, db, engineer_id, form)
    except AppError as exc:
        db.rollback()
        parsed.add_service_errors(db, exc)
        engineer = engineers.get_engineer(db, engineer_id)
        return _form_view(request, db, engineer, form, errors=parsed.errors, status_code=exc.status_code)
    except IntegrityError:
        db.rollback()
        engineer = engineers.get_engineer(db, engineer_id)
        return _form_view(request, db, engineer, form, errors={"user_id": TAKEN}, status_code=409)
    changed = engineer.version != base
    db.commit()
    return RedirectResponse(
        f"/admin/engineers/{engineer_id}?done={'saved' if changed else 'unchanged'}", status_code=303
    )


def _stale(request: Request, db: Session, engineer_id: int, form: dict[str, str]) -> HTMLResponse:
    """409: what was typed, on the profile as saved now; the hidden version becomes the current one,
    so a second Save, made knowingly, applies the typed values."""
    engineer = engineers.get_engineer(db, engineer_id)
    typed = form | {"version": str(engineer.version)}
    return _form_view(request, db, engineer, typed, alert=STALE, status_code=409)


# --- absences and on-call cover (engineer_absences reads and saves the forms) ---------------------
def _calendar_answer(request: Request, db: Session, engineer_id: int, outcome: calendar.Outcome) -> Response:
    if outcome.location:
        return RedirectResponse(outcome.location, status_code=303)
    engineer = engineers.get_engineer(db, engineer_id)  # the refusal rolled back: as saved now
    typed = _typed_from(engineer, engineers.shifts_of(db, engineer.id))
    return _form_view(request, db, engineer, typed, refused=outcome, status_code=outcome.status_code)


@router.post("/admin/engineers/{engineer_id}/absences", response_model=None)
def absence_add(
    engineer_id: int, request: Request, db: PageDb, user: EngineersUser, form: TypedForm
) -> Response:
    require_csrf(request, form.get("csrf"))
    engineer = engineers.get_engineer(db, engineer_id)
    return _calendar_answer(request, db, engineer_id, calendar.add_absence(request, db, user, engineer, form))


@router.post("/admin/engineers/{engineer_id}/absences/{absence_id}/remove", response_model=None)
def absence_remove(
    engineer_id: int, absence_id: int, request: Request, db: PageDb, user: EngineersUser, form: TypedForm
) -> Response:
    require_csrf(request, form.get("csrf"))
    engineer = engineers.get_engineer(db, engineer_id)
    outcome = calendar.remove_absence(
        db, user, engineer, absence_id, form.get("also", ""), form.get("tags", "")
    )
    return _calendar_answer(request, db, engineer_id, outcome)


@router.post("/admin/engineers/{engineer_id}/on-call", response_model=None)
def on_call_add(
    engineer_id: int, request: Request, db: PageDb, user: EngineersUser, form: TypedForm
) -> Response:
    require_csrf(request, form.get("csrf"))
    engineer = engineers.get_engineer(db, engineer_id)
    return _calendar_answer(request, db, engineer_id, calendar.add_on_call(request, db, user, engineer, form))


@router.post("/admin/engineers/{engineer_id}/on-call/{on_call_id}/remove", response_model=None)
def on_call_remove(
    engineer_id: int, on_call_id: int, request: Request, db: PageDb, user: EngineersUser, form: TypedForm
) -> Response:
    require_csrf(request, form.get("csrf"))
    engineer = engineers.get_engineer(db, engineer_id)
    outcome = calendar.remove_on_call(db, user, engineer, on_call_id, form.get("tag", ""))
    return _calendar_answer(request, db, engineer_id, outcome)
