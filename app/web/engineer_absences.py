"""Absences and on-call cover on an engineer's profile page (`/admin/engineers/{id}`): what is
coming (the region's clock, readable dates; the past folded away, the latest only), a form to add
each and a button to remove one. The routes live with the profile's in `engineers.py`; this module
reads the forms and saves them.

Every change goes through the API's service functions (`add_absence`, `remove_absence`,
`add_on_call`, `remove_on_call`), checked by the API's bodies (`AbsenceIn`, `OnCallIn`), so the
rules are the API's: one absence per engineer and day, cover ending after it starts, at most 14
days, no overlapping cover. What the page adds is the form's own reading: an absence from a first
to a last day is one `add_absence` per day (the API takes a day at a time; the first day may start
at a time of day, the last may end at one, the days between are whole days), all or none. On one
day both times make a gap (training 13:00–15:00: working before and after), until alone a late
start (at the dentist until 10:30).

Planning reacts as it does to the API, through its session hook (`app/planning/triggers.py`): an
absence or cover added or removed for a day with a published plan, today or later, asks for a
re-plan of that day (removed cover that is over already: none). After saving, the page says which
days are planned again and which published plans stay as they are, from what the commit really
did (`_plan_effect`).

A double submit of an add replays the first answer (the same one-time form key and
`idempotent_create` as the field pages); removing what is gone already says so instead of a 404,
while an id of another engineer's absence or cover is refused (404) by the service. A remove
button carries the tag of each row it shows (the API's ETag, `absence_tag` / `on_call_tag`, like
its If-Match): a row under that id that is not the one shown (SQLite gives a removed row's id to
the next one) is a 409 saying so, and nothing is removed."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from app.field.engineers import service as engineers
from app.field.engineers.schemas import AbsenceIn, OnCallIn
from app.models import Absence, Engineer, OnCallShift, PlanDay, PlanRun, PlanRunStatus, User
from app.planning import keys as plan_keys
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict, Unprocessable
from app.platform.http import idempotent_create
from app.platform.inputs import INT_MAX
from app.web.messages import page_error, readable
from app.web.shared import field_errors, invalid, parse_clock, parse_day

ABSENCE_FIELDS = ("first_day", "from_time", "last_day", "until_time", "reason", "key")
ON_CALL_FIELDS = ("starts_day", "starts_time", "ends_day", "ends_time", "note", "key")
LABELS = {
    "first_day": "First day",
    "from_time": "Absent from",
    "last_day": "Last day",
    "until_time": "Absent until",
    "reason": "Reason",
    "starts_day": "On call from (day)",
    "starts_time": "On call from (time)",
    "ends_day": "On call until (day)",
    "ends_time": "On call until (time)",
    "note": "Note",
}
# Where a service's or a body's field lands on the form; "" is a refusal naming no field (a clash).
ABSENCE_AT = {
    "day": "first_day",
    "reason": "reason",
    "from_time": "from_time",
    "until_time": "until_time",
    "": "first_day",
}
ON_CALL_AT = {"starts_at": "starts_time", "ends_at": "ends_time", "note": "note", "": "starts_day"}
REASONS = ("leave", "sickness", "training")
MAX_DAYS = 62  # one form's range; longer leave is two absences (and a typo'd year is not 365 rows)
PAST = 10  # past entries shown, newest first; the API lists them all
UPCOMING_MAX = 200
DONE = {
    "absence_added": "The absence is saved.",
    "absence_removed": "The absence is removed.",
    "absence_gone": "That absence was not there any more (removed by a second click or by someone "
    "else); nothing changed.",
    "on_call_added": "The on-call cover is saved.",
    "on_call_removed": "The on-call cover is removed.",
    "on_call_gone": "That on-call cover was not there any more (removed by a second click or by "
    "someone else); nothing changed.",
    "replayed": "This form had been sent already: it was saved once, as listed below, not twice.",
}
STALE = {
    "absence": "Nothing was removed: that absence was changed by someone else since this page was "
    "opened (removed, and another one saved in its place). The list above is as saved now; check it "
    "and remove again if needed.",
    "on_call": "Nothing was removed: that on-call cover was changed by someone else since this page "
    "was opened (removed, and other cover saved in its place). The list above is as saved now; "
    "check it and remove again if needed.",
}


@dataclass
class Outcome:
    """What a calendar form did: a redirect (saved, or nothing to do), or the refused form again."""

    location: str = ""
    form: str = ""  # "absence" | "on_call": the refused one
    state: dict[str, Any] = field(default_factory=dict)
    status_code: int = 303


@dataclass(frozen=True)
class Period:
    """Consecutive absent days with one reason, as a dispatcher thinks of them ("leave 8–12 Dec"):
    only its first day may start at a time of day, only its last may end at one."""

    first: date
    last: date
    reason: str
    from_time: time | None
    days: tuple[tuple[int, date], ...]
    until_time: time | None = None

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.days]


def _periods(rows: Sequence[Absence]) -> list[Period]:
    periods: list[Period] = []
    for a in rows:
        prev = periods[-1] if periods else None
        if prev and _continues(prev, a):
            days = (*prev.days, (a.id, a.day))
            periods[-1] = Period(prev.first, a.day, prev.reason, prev.from_time, days, a.until_time)
        else:
            periods.append(Period(a.day, a.day, a.reason, a.from_time, ((a.id, a.day),), a.until_time))
    return periods


def _continues(prev: Period, a: Absence) -> bool:
    """`a` is the next day of `prev`'s absence: same reason, the day after, and no return between
    (prev lasts to the end of its day, `a` starts at the start of its)."""
    return (
        prev.until_time is None
        and a.from_time is None
        and a.reason == prev.reason
        and a.day == prev.last + timedelta(1)
    )


def day_text(day: date, today: date | None = None) -> str:
    """'Mon 8 Dec' (this year), 'Mon 8 Dec 2025' otherwise."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text if today is not None and day.year == today.year else f"{text} {day.year}"


def days_text(days: Sequence[date], today: date | None = None) -> str:
    """'Mon 8 Dec', 'Mon 8 Dec – Wed 10 Dec and Fri 12 Dec': runs of days joined."""
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and runs[-1][-1] + timedelta(1) == d:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts = [day_text(r[0], today) + (f" – {day_text(r[-1], today)}" if len(r) > 1 else "") for r in runs]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _new_state(key: str = "") -> dict[str, Any]:
    return {"input": {"key": key or secrets.token_urlsafe(16)}, "fields": {}, "error": ""}


def section(db: Session, engineer: Engineer, refused: Outcome | None = None) -> dict[str, Any]:
    """The profile page's absences and on-call cover, with their two forms (a fresh one-time key
    each; a refused form keeps its own, so saving it after a fix still counts once)."""
    tz = engineers.timezone_of(db, engineer)
    now = utcnow()
    today = plan_keys.local_day(now, tz)
    upcoming = engineers.list_absences(db, engineer.id, start=today, end=None)[:UPCOMING_MAX]
    year_ago = today - timedelta(days=365)
    past = engineers.list_absences(db, engineer.id, start=year_ago, end=today - timedelta(1))
    covers = engineers.list_on_call(db, engineer.id, start=now - timedelta(days=365), end=None)
    forms = {"absence": _new_state(), "on_call": _new_state()}
    if refused is not None and refused.form:
        forms[refused.form] = refused.state
    return {
        "tz": tz,
        "today": today,
        "absences": _periods(upcoming),
        "past_absences": list(reversed(_periods(past)))[:PAST],
        "on_call": [c for c in covers if c.ends_at > now][:UPCOMING_MAX],
        "past_on_call": list(reversed([c for c in covers if c.ends_at <= now]))[:PAST],
        # the remove buttons' hidden tags (the API's ETags): a stale page removes nothing
        "absence_tags": {a.id: engineers.absence_tag(a) for a in upcoming},
        "on_call_tags": {c.id: engineers.on_call_tag(c) for c in covers},
        "absence_form": forms["absence"],
        "on_call_form": forms["on_call"],
        "reasons": REASONS,
        "day_text": day_text,
    }


def flash(params: QueryParams, engineer: Engineer) -> str:
    """The message after a calendar form, from the redirect's query (`done`, and the days whose
    plan is made again or stays as published, as `_plan_effect` found them)."""
    done = params.get("done", "")
    if done not in DONE:
        return ""
    replanned, kept = (_days(params.getlist(name)) for name in ("replanned", "kept"))
    name, parts = engineer.name, [DONE[done]]
    if done == "absence_added":
        if replanned:
            parts.append(
                f"{name}'s visits on {days_text(replanned)} will be planned again: a re-plan of "
                f"{_that(replanned)} is requested, as for an absence recorded through the API."
            )
        if kept:
            parts.append(
                f"The plan published for {days_text(kept)} was not planned again automatically. "
                "Plan the day again on the board."
            )
    elif done == "on_call_added":
        if replanned:
            parts.append(
                f"The plan of {days_text(replanned)} will be made again with {name} on call (for P1s "
                "and 24x7 visits nobody on shift can reach in time), as for cover added through the API."
            )
        if kept:
            parts.append(
                f"The plan published for {days_text(kept)} was not planned again automatically; plan "
                "the day again on the board if the cover should be used."
            )
    elif done == "absence_removed":
        if replanned:
            parts.append(
                f"{name} can be given visits on {days_text(replanned)} again: a re-plan of "
                f"{_that(replanned)} is requested, as for an absence removed through the API."
            )
        if kept:
            parts.append(
                f"The plan published for {days_text(kept)} was not planned again automatically. "
                f"Plan the day again on the board so that {name} gets visits that day."
            )
    elif done == "on_call_removed":
        if replanned:
            parts.append(
                f"The plan of {days_text(replanned)} will be made again without {name} on call: a "
                f"re-plan of {_that(replanned)} is requested, as for cover removed through the API."
            )
        if kept:
            parts.append(
                f"The plan published for {days_text(kept)} was not planned again: the cover was over "
                "already, so it changes nothing from now on."
            )
    if done in ("absence_added", "absence_removed", "on_call_added", "on_call_removed") and not (
        replanned or kept
    ):
        parts.append("No published plan of today or later is affected.")
    return " ".join(parts)


def _that(days: Sequence[date]) -> str:
    return "that day" if len(days) == 1 else "those days"


def _days(values: Sequence[str]) -> list[date]:
    """The days of a redirect's query; anything else (a hand-edited address) is left out."""
    out = []
    for value in values[:MAX_DAYS]:
        try:
            day = parse_day(value)
        except ValueError:
            continue
        if day is not None:
            out.append(day)
    return out


# ------------------------------------------------------------------------------------- reading
def _day(typed: Mapping[str, str], name: str, errors: dict[str, str], *, required: bool) -> date | None:
    try:
        day = parse_day(typed.get(name, ""))
    except ValueError as exc:
        errors[name] = f"{exc}, e.g. 2025-12-08"
        return None
    if day is None and required:
        errors[name] = "give the day"
    return day


def _time(typed: Mapping[str, str], name: str, errors: dict[str, str], example: str) -> time | None:
    text = typed.get(name, "").strip()
    if not text:
        return None
    try:
        return parse_clock(text)  # 8:00 and 13.30 too: the field is plain text after a refusal
    except ValueError:
        errors[name] = f"a time of day, e.g. {example} or {example.replace(':', '.')}"
        return None


def _refused(
    kind: str, typed: dict[str, str], errors: dict[str, str], status: int = 422, alert: str = ""
) -> Outcome:
    alert = alert or "Nothing was saved. " + "; ".join(
        f"{LABELS[k]}: {v}" if k in LABELS else v for k, v in errors.items()
    )
    return Outcome(form=kind, state={"input": typed, "fields": errors, "error": alert}, status_code=status)


def _typed(form: Mapping[str, str], names: Sequence[str]) -> dict[str, str]:
    return {k: form.get(k, "")[:300] for k in names}


def _moment(day: date | None, at: time | None, tz: ZoneInfo) -> datetime | None:
    if day is None or at is None:
        return None
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _local_days(starts_at: datetime, ends_at: datetime, tz: str) -> list[date]:
    """The region's days a stretch of cover touches (its end instant excluded), as the trigger counts."""
    first = plan_keys.local_day(starts_at, tz)
    last = plan_keys.local_day(ends_at - timedelta(seconds=1), tz)
    return [first + timedelta(d) for d in range(max((last - first).days + 1, 0))]


# ------------------------------------------------------------------------------------- saving
def _plan_effect(db: Session, engineer: Engineer, days: Sequence[date], after: int) -> dict[str, list[str]]:
    """After the commit: which of `days` (today or later) the planning hook re-plans (a re-plan
    run created by this commit, or one still queued, which loads the newest state when it starts),
    and which have a published plan that stays as it is."""
    tz = engineers.timezone_of(db, engineer)
    ahead = sorted({d for d in days if d >= plan_keys.local_day(utcnow(), tz)})
    if not ahead:
        return {}
    published = set(
        db.scalars(
            select(PlanDay.day).where(
                PlanDay.region_id == engineer.region_id,
                PlanDay.day.in_(ahead),
                PlanDay.current_run_id.is_not(None),
            )
        )
    )
    replans = set(
        db.scalars(
            select(PlanRun.day).where(
                PlanRun.region_id == engineer.region_id,
                PlanRun.day.in_(ahead),
                PlanRun.kind == "replan",
                or_(PlanRun.id > after, PlanRun.status == PlanRunStatus.queued.value),
            )
        )
    )
    return {
        "replanned": [d.isoformat() for d in ahead if d in replans],
        "kept": [d.isoformat() for d in ahead if d in published and d not in replans],
    }


def _last_run(db: Session) -> int:
    return db.scalar(select(func.max(PlanRun.id))) or 0


def _saved(db: Session, engineer: Engineer, done: str, days: Sequence[date], after: int) -> Outcome:
    engineer_id = engineer.id
    db.commit()  # the planning hook asks for its re-plans inside this commit
    query = {"done": done} | _plan_effect(db, engineer, days, after)
    return Outcome(location=f"/admin/engineers/{engineer_id}?{urlencode(query, doseq=True)}")


def _add(
    request: Request,
    db: Session,
    user: User,
    engineer: Engineer,
    *,
    kind: str,
    typed: dict[str, str],
    body: dict[str, Any],
    create: Callable[[], None],
    days: Sequence[date],
    clash: Callable[[], str],
) -> Outcome:
    """Run `create` once per form key (a second click replays), then commit and say what planning
    does. A refusal rolls everything back and keeps the form."""
    at = ABSENCE_AT if kind == "absence" else ON_CALL_AT
    after = _last_run(db)

    def _run() -> tuple[dict[str, Any], dict[str, str]]:
        create()
        db.flush()
        return {"engineer_id": engineer.id}, {}

    engineer_id = engineer.id
    try:
        answer = idempotent_create(db, request, user, body, _run, status_code=200, key=typed["key"] or None)
    except AppError as exc:
        db.rollback()
        errors = {at.get(k, k): v for k, v in field_errors(exc).items()}
        if not errors and isinstance(exc, Conflict):
            errors[at[""]] = clash() or page_error(exc)
        if not errors:  # the form key, used for another form (or forged): a fresh one
            fresh = {"key": secrets.token_urlsafe(16)} if isinstance(exc, Unprocessable) else {}
            return _refused(kind, typed | fresh, {}, exc.status_code, "Nothing was saved. " + page_error(exc))
        return _refused(kind, typed, errors, status=exc.status_code)
    except IntegrityError:  # the same day saved by a concurrent request (a double click on PostgreSQL)
        db.rollback()
        errors = {at[""]: "saved a moment ago by another request (a second click?); see the list"}
        return _refused(kind, typed, errors, status=409)
    if answer.headers.get("Idempotent-Replayed"):
        return Outcome(location=f"/admin/engineers/{engineer_id}?done=replayed")
    return _saved(db, engineer, f"{kind}_added", days, after)


def add_absence(
    request: Request, db: Session, user: User, engineer: Engineer, form: Mapping[str, str]
) -> Outcome:
    typed = _typed(form, ABSENCE_FIELDS)
    errors: dict[str, str] = {}
    first = _day(typed, "first_day", errors, required=True)
    last = _day(typed, "last_day", errors, required=False) or first
    from_time = _time(typed, "from_time", errors, "13:00")
    until_time = _time(typed, "until_time", errors, "10:30")
    if first and last and "last_day" not in errors:
        if last < first:
            errors["last_day"] = "must not be before the first day"
        elif (last - first).days >= MAX_DAYS:
            errors["last_day"] = f"at most {MAX_DAYS} days at once; add the rest as another absence"
    reason = typed["reason"].strip() or "leave"  # the API's default
    one_day = first == last
    # the day is read above (parse_day has the same bounds); the bodies check the reason and the
    # times: on one day both (a gap ends after it starts), over several the first and the last's
    bodies = [{"from_time": from_time, "until_time": until_time if one_day else None}]
    if not one_day:
        bodies.append({"until_time": until_time})
    for times in bodies:
        try:
            AbsenceIn.model_validate({"day": first or date(2000, 1, 1), "reason": reason, **times})
        except ValidationError as exc:
            for e in exc.errors():
                errors.setdefault(ABSENCE_AT.get(str(e["loc"][0]), "reason"), readable(e))
    if errors or first is None or last is None:
        return _refused("absence", typed, errors)
    days = [first + timedelta(d) for d in range((last - first).days + 1)]

    def create() -> None:
        for day in days:
            engineers.add_absence(
                db,
                engineer=engineer,
                day=day,
                reason=reason,
                actor=user,
                from_time=from_time if day == first else None,
                until_time=until_time if day == last else None,
            )

    def clash() -> str:
        taken = engineers.list_absences(db, engineer.id, start=first, end=last)
        if not taken:
            return ""
        return (
            f"{engineer.name} is already marked absent on {days_text([a.day for a in taken])} (listed "
            "below); nothing was saved. Remove that absence first, or choose other days."
        )

    body = {"first": first, "last": last, "from_time": from_time, "until_time": until_time, "reason": reason}
    return _add(
        request,
        db,
        user,
        engineer,
        kind="absence",
        typed=typed,
        body=body,
        create=create,
        days=days,
        clash=clash,
    )


def add_on_call(
    request: Request, db: Session, user: User, engineer: Engineer, form: Mapping[str, str]
) -> Outcome:
    typed = _typed(form, ON_CALL_FIELDS)
    errors: dict[str, str] = {}
    tz_name = engineers.timezone_of(db, engineer)
    tz = ZoneInfo(tz_name)
    starts = _moment(
        _day(typed, "starts_day", errors, required=True), _time(typed, "starts_time", errors, "17:00"), tz
    )
    ends = _moment(
        _day(typed, "ends_day", errors, required=True), _time(typed, "ends_time", errors, "08:00"), tz
    )
    for name in ("starts_time", "ends_time"):
        if not typed[name].strip():
            errors[name] = "give the time of day, e.g. 17:00"
    try:
        OnCallIn.model_validate(
            {"starts_at": starts or utcnow(), "ends_at": ends or utcnow(), "note": typed["note"]}
        )
    except ValidationError as exc:
        for e in exc.errors():
            errors.setdefault(ON_CALL_AT.get(str(e["loc"][0]), "note"), readable(e))
    if errors or starts is None or ends is None:
        return _refused("on_call", typed, errors)
    note = typed["note"]

    def create() -> None:
        engineers.add_on_call(db, engineer=engineer, starts_at=starts, ends_at=ends, note=note, actor=user)

    def clash() -> str:
        taken = engineers.list_on_call(db, engineer.id, start=starts, end=ends)
        if not taken:
            return ""
        when = ", ".join(
            f"{c.starts_at.astimezone(tz):%a %d %b %H:%M} – {c.ends_at.astimezone(tz):%a %d %b %H:%M}"
            for c in taken
        )
        return (
            f"overlaps the cover already recorded for {engineer.name} ({when}, {tz_name}); nothing was saved"
        )

    body = {"starts_at": starts, "ends_at": ends, "note": note}
    days = _local_days(starts, ends, tz_name)
    return _add(
        request,
        db,
        user,
        engineer,
        kind="on_call",
        typed=typed,
        body=body,
        create=create,
        days=days,
        clash=clash,
    )


def _ids(first: int, also: str) -> list[int]:
    """The absence in the address and the rest of its period (`also`: "5,6,7")."""
    ids = [first]
    for part in filter(None, (p.strip() for p in also.split(","))):
        if not part.isdecimal() or int(part) > INT_MAX or len(ids) > MAX_DAYS:
            raise invalid({"also": "reload the page and try again"})
        ids.append(int(part))
    return list(dict.fromkeys(ids))


def _tags(value: str, count: int) -> list[str]:
    """The remove form's hidden tags, one per id; missing or forged: a page to reload."""
    tags = [t.strip() for t in value.split(",")]
    if len(tags) != count or not all(len(t) == 8 and t.isalnum() for t in tags):
        raise invalid({"tags": "reload the page and try again"})
    return tags


def _stale(kind: str) -> Outcome:
    return _refused(kind, {"key": secrets.token_urlsafe(16)}, {}, 409, STALE[kind])


def remove_absence(
    db: Session, user: User, engineer: Engineer, absence_id: int, also: str, tags: str
) -> Outcome:
    """Remove the absence (and the rest of its period, when the period's button was used). An id
    that is not this engineer's is refused by the service (404) and nothing is removed; one that
    is gone already (a second click) is no error; one holding another absence than the page showed
    (its tag differs) is a 409 and nothing is removed."""
    ids, days, after, engineer_id = _ids(absence_id, also), [], _last_run(db), engineer.id
    for i, tag in zip(ids, _tags(tags, len(ids)), strict=True):
        row = db.get(Absence, i)
        if row is None:
            if i == absence_id:
                db.rollback()
                return Outcome(location=f"/admin/engineers/{engineer_id}?done=absence_gone")
            continue  # a day of the period removed on its own meanwhile
        if row.engineer_id == engineer_id and engineers.absence_tag(row) != tag:
            db.rollback()
            return _stale("absence")
        day = row.day
        engineers.remove_absence(db, engineer=engineer, absence_id=i, actor=user)  # 404: not theirs
        days.append(day)
    return _saved(db, engineer, "absence_removed", days, after)


def remove_on_call(db: Session, user: User, engineer: Engineer, on_call_id: int, tag: str) -> Outcome:
    tag = _tags(tag, 1)[0]
    row = db.get(OnCallShift, on_call_id)
    if row is None:
        return Outcome(location=f"/admin/engineers/{engineer.id}?done=on_call_gone")
    if row.engineer_id == engineer.id and engineers.on_call_tag(row) != tag:
        return _stale("on_call")
    days = _local_days(row.starts_at, row.ends_at, engineers.timezone_of(db, engineer))
    after = _last_run(db)
    engineers.remove_on_call(db, engineer=engineer, on_call_id=on_call_id, actor=user)  # 404: not theirs
    return _saved(db, engineer, "on_call_removed", days, after)
