"""Engineer profiles for the people who plan: `/admin/engineers` lists the profiles and the engineer
accounts that have none yet; `/admin/engineers/new?account=` creates one, `/admin/engineers/{id}`
edits it (name, sign-in account, region, skills, home base, weekly shifts, in planning or not).

The roles are the API's for writing engineers (dispatchers, managers, admins). The page only turns
form text into the API's bodies (`EngineerCreate` / `EngineerUpdate`, so the same ranges and
lengths) and calls the same service functions, plus `check_skills` (a typo'd skill would never
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
import re
import secrets
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.accounts import service as accounts
from app.field.engineers import service as engineers
from app.field.engineers.schemas import EngineerCreate, EngineerUpdate, ShiftIn
from app.models import Engineer, Region, Role, Shift, StockLevel, User
from app.platform.errors import AppError, Forbidden, Unprocessable
from app.platform.http import idempotent_create
from app.web import engineer_absences as calendar
from app.web.messages import page_error
from app.web.navigation import DISPATCH
from app.web.shared import (
    PageDb,
    PageRoute,
    PageUser,
    field_errors,
    form_version,
    invalid,
    optional_id,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
PAGE = 100
DAYS = tuple(enumerate(engineers.WEEKDAYS))
SHIFT_PARTS = {"starts": "start", "ends": "end", "break_starts": "break from", "break_ends": "break until"}
LABELS = {
    "name": "Name",
    "user_id": "Sign-in account",
    "region_id": "Region",
    "skills": "Skills",
    "home_latitude": "Home latitude",
    "home_longitude": "Home longitude",
    "active": "In planning",
} | {f"{part}_{day}": f"{name} {text}" for day, name in DAYS for part, text in SHIFT_PARTS.items()}
SHIFT_FIELDS = {f"{part}_{day}" for day, _ in DAYS for part in SHIFT_PARTS}
FORM_ORDER = {
    name: i
    for i, name in enumerate(
        [*list(LABELS)[:6], *(f"{part}_{day}" for day, _ in DAYS for part in SHIFT_PARTS), "active"]
    )
}
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
# 48.137, -11, 48,137 (a German keyboard's decimal comma), .5: nothing else reads as a coordinate
_COORDINATE = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")


def dispatch_user(user: PageUser) -> User:
    if user.role not in DISPATCH:
        raise Forbidden(
            "Engineer profiles are managed by dispatchers, managers and admins. Your account "
            f"({user.email}, role {user.role}) cannot change them."
        )
    return user


EngineersUser = Annotated[User, Depends(dispatch_user)]


async def typed_form(request: Request) -> dict[str, str]:
    """The posted fields as text: the form has 28 time fields, too many to declare one by one."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


TypedForm = Annotated[dict[str, str], Depends(typed_form)]


@dataclass
class Parsed:
    """A form read into the API's body; `weekdays[i]` is the day of `body["shifts"][i]`, so that a
    service's "shifts.1.ends" lands under the right day's field."""

    body: dict[str, Any] = field(default_factory=dict)
    weekdays: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def add_service_errors(self, db: Session, exc: AppError) -> None:
        """The service's refusal at saving (a race: the account got a profile meanwhile), worded."""
        for name, message in field_errors(exc).items():
            path = [int(p) if p.isdecimal() else p for p in name.split(".")]
            if (
                len(path) == 3
                and path[0] == "shifts"
                and isinstance(path[1], int)
                and path[1] < len(self.weekdays)
            ):
                day, shift = self.weekdays[path[1]], self.body["shifts"][path[1]]
                self.errors.setdefault(*_shift_error(day, shift, str(path[2]), message))
                continue
            self.errors.setdefault(str(path[0]), _ref_words(db, str(path[0]), message))


def _hhmm(value: time | None) -> str:
    return value.isoformat("minutes" if not value.second else "seconds") if value else ""


def _quoted(text: str) -> str:
    return f"“{text[:20]}…”" if len(text) > 20 else f"“{text}”"


# The service's shift messages (`check_shifts`) name the API's fields ("must be after starts"); the
# form says the same with its labels and the times typed. Matched by the exact message, so a check
# the service adds later still shows, with the field names turned into labels (`_shift_error`).
SHIFT_WORDS = {
    "must be after starts (no overnight shifts)": (
        "{day}: the end ({ends}) must be after the start ({starts}); shifts do not run past midnight"
    ),
    "give both break_starts and break_ends": "{day}: give the break's start and end, or neither (no break)",
    "the break must lie inside the shift": (
        "{day}: the break ({break_starts}–{break_ends}) must lie inside the shift ({starts}–{ends})"
    ),
    "weekday given twice": "{day} is given twice",
}
_API_PART = re.compile(r"\b(break_starts|break_ends|starts|ends)\b")


def _shift_error(day: int, shift: dict[str, Any], part: str, message: str) -> tuple[str, str]:
    """A service or model message about one day's shift: the form field it belongs under, and the
    message naming the day (the shift table's cells have no label of their own to read it with)."""
    name = DAYS[day][1]
    words = SHIFT_WORDS.get(message)
    if words is not None:
        text = words.format_map({"day": name} | {p: _hhmm(shift.get(p)) for p in SHIFT_PARTS})
    else:
        text = f"{name}: " + _API_PART.sub(lambda m: f"the {SHIFT_PARTS[m[1]]}", message)
    return (f"{part}_{day}" if part in SHIFT_PARTS else f"starts_{day}"), text


def _ref_words(db: Session, name: str, message: str) -> str:
    """The service's account and region messages name ids ("user 12 is already engineer 7"); the
    form names the account and the profile. Anything else is shown as the service says it."""
    if found := re.fullmatch(r"user (\d+) is already engineer (\d+)", message):
        user, other = db.get(User, int(found[1])), db.get(Engineer, int(found[2]))
        if user is not None and other is not None:
            return f"{user.name}'s account already has an engineer profile: {other.name}"
    if found := re.fullmatch(r"user (\d+) has role (\w+), not engineer", message):
        user = db.get(User, int(found[1]))
        if user is not None:
            return (
                f"{user.name}'s account has the role {found[2]}; an admin gives it the role engineer "
                "on the users page first"
            )
    if re.fullmatch(r"(user|region) \d+ does not exist", message):
        return "it does not exist any more (someone removed it); choose one from the list"
    return message


def _coordinate(parsed: Parsed, name: str, typed: str, example: str) -> None:
    typed = typed.strip()
    if _COORDINATE.fullmatch(typed):
        parsed.body[name] = float(typed.replace(",", "."))
    else:
        parsed.errors[name] = f"a number of degrees, e.g. {example} or {example.replace('.', ',')}"


def _shifts(parsed: Parsed, form: dict[str, str]) -> None:
    """Each day on its own, with the model's checks (`ShiftIn`) and the service's shift check: one
    answer names every day's mistakes, whatever the rest of the form holds. A day with a mistake is
    left out of the body (nothing is saved then anyway)."""
    shifts = []
    for day, day_name in DAYS:
        typed = {part: form.get(f"{part}_{day}", "").strip() for part in SHIFT_PARTS}
        if not any(typed.values()):
            continue  # no shift that day
        shift: dict[str, Any] = {"weekday": day}
        problems: dict[str, str] = {}
        for part, text in typed.items():
            if not text:
                if part in ("starts", "ends"):
                    problems[f"{part}_{day}"] = (
                        f"{day_name}: give the start and the end, or neither (a day off)"
                    )
                continue  # a half-given break: the service's check names it
            try:
                shift[part] = calendar.clock(text)
            except ValueError:  # the time field cannot show what was typed, so the message does
                problems[f"{part}_{day}"] = (
                    f"{LABELS[f'{part}_{day}']}: {_quoted(text)} is not a time of day, e.g. 08:00"
                )
        if not problems:
            try:
                shift = ShiftIn.model_validate(shift).model_dump()
            except ValidationError as exc:
                for error in exc.errors():
                    part = str(error["loc"][0]) if error["loc"] else ""
                    problems.setdefault(*_shift_error(day, shift, part, _readable(error)))
            else:
                for found in engineers.check_shifts([shift]):  # the service's own rules, run early
                    part = found["field"].rsplit(".", 1)[-1]
                    problems.setdefault(*_shift_error(day, shift, part, found["message"]))
        if problems:
            parsed.errors |= problems
        else:
            shifts.append(shift)
            parsed.weekdays.append(day)
    parsed.body["shifts"] = shifts


def _readable(error: ErrorDetails) -> str:
    """pydantic's message in the words of the form."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"at most {ctx['le']}"
    if kind == "string_too_short":
        return "must not be blank"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items"
    if kind == "string_pattern_mismatch":
        return "a skill cannot contain quotes or backslashes"
    return error["msg"].removeprefix("Value error, ")


def _parse(
    db: Session,
    form: dict[str, str],
    schema: type[EngineerCreate | EngineerUpdate],
    engineer_id: int | None = None,
) -> Parsed:
    """The form as the API's body, and every problem with it at once: the form's own reading, the
    model's checks, the skills and the service's checks each run on what could be read, whatever
    the other stages found (one round of corrections, not one per stage). The service checks again
    when saving."""
    parsed = Parsed()
    parsed.body["name"] = form.get("name", "")
    active = form.get("active", "yes")
    if active not in ("yes", "no"):
        parsed.errors["active"] = "choose whether planning may give them visits"
    parsed.body["active"] = active == "yes"
    for name, missing in (("user_id", None), ("region_id", "choose a region")):
        try:
            chosen = optional_id(form.get(name))
        except ValueError:
            chosen, missing = None, "choose one from the list"
        if chosen is None and missing:
            parsed.errors[name] = missing
        parsed.body[name] = chosen
    typed_skills = re.split(r"[,;]", form.get("skills", ""))
    parsed.body["skills"] = list(dict.fromkeys(s.strip() for s in typed_skills if s.strip()))
    _coordinate(parsed, "home_latitude", form.get("home_latitude", ""), "48.137")
    _coordinate(parsed, "home_longitude", form.get("home_longitude", ""), "11.575")
    _shifts(parsed, form)
    try:
        valid = schema.model_validate(
            {k: v for k, v in parsed.body.items() if v is not None or k == "user_id"}
        )
    except ValidationError as exc:
        for error in exc.errors():
            loc = error["loc"]
            if len(loc) >= 3 and loc[0] == "shifts" and isinstance(loc[1], int):
                day = parsed.weekdays[loc[1]]  # cannot happen: each day passed `ShiftIn` already
                parsed.errors.setdefault(*_shift_error(day, {}, str(loc[2]), _readable(error)))
            else:
                parsed.errors.setdefault(str(loc[0]) if loc else "", _readable(error))
    else:
        shifts = [s.model_dump() for s in valid.shifts or []]
        parsed.body = valid.model_dump(exclude={"shifts"}) | {"shifts": shifts}
    if "skills" not in parsed.errors:
        parsed.body["skills"], unknown = engineers.check_skills(db, parsed.body["skills"])
        parsed.errors |= {e["field"]: e["message"] for e in unknown}
    # the service's account and region checks (the shifts' ran per day), on the ids that were read;
    # the service's own functions (it has no public check-only call), so there is one set of rules
    refs = {k: parsed.body[k] for k in ("user_id", "region_id") if k not in parsed.errors}
    for found in engineers.check_refs(db, refs, engineer_id):
        parsed.errors.setdefault(found["field"], _ref_words(db, found["field"], found["message"]))
    return parsed


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
            echo[name] = _hhmm(calendar.clock(echo[name]))
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
    parsed = _parse(db, form, EngineerCreate)
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
    parsed = _parse(db, form, EngineerUpdate, engineer_id)
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
    outcome = calendar.remove_absence(db, user, engineer, absence_id, form.get("also", ""))
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
    return _calendar_answer(request, db, engineer_id, calendar.remove_on_call(db, user, engineer, on_call_id))
