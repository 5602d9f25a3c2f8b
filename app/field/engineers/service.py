"""Engineers: profile, weekly shifts with breaks, absences, live position and the van.

Shift times are wall-clock times in the engineer's region time zone (`Region.timezone`);
`day_shift` turns one local day into UTC instants, so DST is handled by zoneinfo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, cast, delete, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.field.engineers import day_part
from app.models import (
    Absence,
    Engineer,
    OnCallShift,
    ProductModel,
    Region,
    Role,
    Shift,
    StockLocation,
    User,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, NotFound, Unprocessable, refuse
from app.platform.http import fields_tag, paginate
from app.platform.like import LIKE_ESCAPE, like_contains

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
UPDATABLE = ("name", "user_id", "region_id", "skills", "home_latitude", "home_longitude", "active")


@dataclass(frozen=True)
class DayShift:
    """One engineer's working time on one local day (UTC instants), or why there is none."""

    engineer_id: int
    day: date
    timezone: str
    working: bool
    absent: bool = False
    absence_reason: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    break_starts_at: datetime | None = None
    break_ends_at: datetime | None = None
    gap_starts_at: datetime | None = None  # absent between two times inside the shift
    gap_ends_at: datetime | None = None


def get_engineer(session: Session, engineer_id: int) -> Engineer:
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        raise NotFound(f"Engineer {engineer_id} does not exist.")
    return engineer


def engineer_for_user(session: Session, user: User) -> Engineer | None:
    return session.scalar(select(Engineer).where(Engineer.user_id == user.id))


def visible_engineer(session: Session, user: User, engineer_id: int) -> Engineer:
    """Load an engineer; an engineer user sees only themselves (others answer 404)."""
    engineer = get_engineer(session, engineer_id)
    if user.role == Role.engineer.value and engineer.user_id != user.id:
        raise NotFound(f"Engineer {engineer_id} does not exist.")
    return engineer


def van_location(session: Session, engineer_id: int) -> StockLocation | None:
    return session.scalar(select(StockLocation).where(StockLocation.engineer_id == engineer_id))


def shifts_of(session: Session, engineer_id: int) -> list[Shift]:
    return list(
        session.scalars(select(Shift).where(Shift.engineer_id == engineer_id).order_by(Shift.weekday))
    )


def check_refs(session: Session, values: Mapping[str, Any], engineer_id: int | None) -> list[dict[str, str]]:
    """The region and account a profile names, as field errors. Public so the profile page can run
    it before the save and show every mistake in one answer (the save runs it again)."""
    errors: list[dict[str, str]] = []
    if "region_id" in values and session.get(Region, values["region_id"]) is None:
        errors.append({"field": "region_id", "message": f"region {values['region_id']} does not exist"})
    user_id = values.get("user_id")
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            errors.append({"field": "user_id", "message": f"user {user_id} does not exist"})
        elif user.role != Role.engineer.value:
            errors.append(
                {"field": "user_id", "message": f"user {user_id} has role {user.role}, not engineer"}
            )
        else:
            other = session.scalar(select(Engineer.id).where(Engineer.user_id == user_id))
            if other is not None and other != engineer_id:
                errors.append({"field": "user_id", "message": f"user {user_id} is already engineer {other}"})
    return errors


def check_shifts(shifts: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """A week's shifts (and breaks), as field errors; the page runs it per day, as `check_refs`."""
    errors: list[dict[str, str]] = []
    seen: set[int] = set()
    for i, s in enumerate(shifts):
        path = f"shifts.{i}"
        if s["weekday"] in seen:
            errors.append({"field": f"{path}.weekday", "message": "weekday given twice"})
        seen.add(s["weekday"])
        if s["starts"] >= s["ends"]:
            errors.append({"field": f"{path}.ends", "message": "must be after starts (no overnight shifts)"})
        bs, be = s.get("break_starts"), s.get("break_ends")
        if (bs is None) != (be is None):
            errors.append({"field": f"{path}.break_ends", "message": "give both break_starts and break_ends"})
        elif bs is not None and be is not None and not (s["starts"] <= bs < be <= s["ends"]):
            errors.append({"field": f"{path}.break_starts", "message": "the break must lie inside the shift"})
    return errors


def _replace_shifts(session: Session, engineer_id: int, shifts: Sequence[Mapping[str, Any]]) -> None:
    session.execute(delete(Shift).where(Shift.engineer_id == engineer_id))
    session.flush()
    for s in shifts:
        session.add(
            Shift(
                engineer_id=engineer_id,
                weekday=s["weekday"],
                starts=s["starts"],
                ends=s["ends"],
                break_starts=s.get("break_starts"),
                break_ends=s.get("break_ends"),
            )
        )


SHIFT_FIELDS = ("weekday", "starts", "ends", "break_starts", "break_ends")


def shift_dict(shift: Shift) -> dict[str, Any]:
    return {k: getattr(shift, k) for k in SHIFT_FIELDS}


def _shift_plain(shifts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """JSON-able, order-independent form of a weekly pattern (for audit and comparison)."""
    rows = [
        {k: (v.isoformat() if isinstance(v := s.get(k), time) else v) for k in SHIFT_FIELDS} for s in shifts
    ]
    return sorted(rows, key=lambda r: r["weekday"])


def known_skills(session: Session) -> list[str]:
    """The skills planning can match: those a product model needs and those engineers have.

    There is no skill catalogue of its own; a skill that no product model needs and no engineer has
    cannot route any visit, so a form that offers it is most likely a typo ("HAVC")."""
    found = set(session.scalars(select(ProductModel.skill).where(ProductModel.skill != "").distinct()))
    for skills in session.scalars(select(Engineer.skills)):
        found.update(skills or ())
    return sorted(found, key=str.casefold)


def check_skills(session: Session, skills: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    """`skills` spelled as known ("elec" → "ELEC"), and an error naming those that are not.

    The pages call it before `create_engineer`/`update_engineer`; the API does not, so API clients
    that bring their own skill codes keep working."""
    known = known_skills(session)
    by_fold = {k.casefold(): k for k in known}
    spelled = [by_fold.get(s.casefold(), s) for s in skills]
    unknown = [s for s in skills if s.casefold() not in by_fold]
    if not unknown:
        return list(dict.fromkeys(spelled)), []
    listed = ", ".join(known) or "none yet (skills come from the product models' skill)"
    named = ", ".join(f"“{s}”" for s in unknown)
    noun = "skill" if len(unknown) == 1 else "skills"
    return spelled, [{"field": "skills", "message": f"unknown {noun} {named}; known skills: {listed}"}]


def create_engineer(
    session: Session, *, values: Mapping[str, Any], shifts: Sequence[Mapping[str, Any]], actor: User | None
) -> Engineer:
    """Create an engineer with their weekly shifts and an (empty) van stock location."""
    refuse(check_refs(session, values, None) + check_shifts(shifts))
    engineer = Engineer(**{k: values[k] for k in UPDATABLE if k in values})
    session.add(engineer)
    session.flush()
    _replace_shifts(session, engineer.id, shifts)
    session.add(StockLocation(kind="van", engineer_id=engineer.id))
    audit.record(
        session,
        actor,
        "engineer",
        engineer.id,
        "create",
        {"name": [None, engineer.name], "shifts": [None, _shift_plain(shifts)]},
    )
    session.flush()
    return engineer


def update_engineer(
    session: Session,
    *,
    engineer: Engineer,
    values: Mapping[str, Any],
    shifts: Sequence[Mapping[str, Any]] | None,
    actor: User | None,
) -> Engineer:
    """Change fields; `shifts`, when given, replaces the whole weekly pattern."""
    errors = check_refs(session, values, engineer.id)
    if shifts is not None:
        errors += check_shifts(shifts)
    refuse(errors)
    changes = audit.apply_changes(engineer, {k: v for k, v in values.items() if k in UPDATABLE})
    if shifts is not None:
        old = _shift_plain([shift_dict(s) for s in shifts_of(session, engineer.id)])
        new = _shift_plain(shifts)
        if old != new:
            _replace_shifts(session, engineer.id, shifts)
            changes["shifts"] = [old, new]
            flag_modified(engineer, "name")  # the row's version (ETag) covers its shifts too
    if changes:
        audit.record(session, actor, "engineer", engineer.id, "update", changes)
    session.flush()
    return engineer


def list_engineers(
    session: Session,
    *,
    region_id: int | None = None,
    skill: str | None = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[Sequence[Engineer], str | None]:
    stmt: Select[Any] = select(Engineer)
    if region_id is not None:
        stmt = stmt.where(Engineer.region_id == region_id)
    if active is not None:
        stmt = stmt.where(Engineer.active.is_(active))
    if skill:
        # JSON arrays serialise as ["A", "B"] on SQLite and PostgreSQL alike; match the quoted
        # element so "HV" does not match "HVAC". Skill names cannot hold quotes (schema).
        needle = like_contains(f'"{skill}"')
        stmt = stmt.where(cast(Engineer.skills, String).like(needle, escape=LIKE_ESCAPE))
    return paginate(session, stmt, Engineer.id, cursor=cursor, limit=limit)


# --- shift calendar ----------------------------------------------------------------------------


def timezone_of(session: Session, engineer: Engineer) -> str:
    region = session.get(Region, engineer.region_id)
    return region.timezone if region else "UTC"


def _at(day: date, t: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=tz).astimezone(UTC)


def day_shift(session: Session, engineer: Engineer, day: date) -> DayShift:
    tz_name = timezone_of(session, engineer)
    absence = session.scalar(select(Absence).where(Absence.engineer_id == engineer.id, Absence.day == day))
    away = _absent(engineer, day, tz_name, absence)
    if absence is not None and day_part.whole_day(absence.from_time, absence.until_time):
        return away
    shift = session.scalar(
        select(Shift).where(Shift.engineer_id == engineer.id, Shift.weekday == day.weekday())
    )
    if shift is None:
        return DayShift(engineer.id, day, tz_name, working=False)
    left: tuple[time, time, tuple[time, time] | None] | None = (shift.starts, shift.ends, None)
    if absence is not None:  # part of the day: a late start, going home early, or a gap
        left = day_part.remaining(shift.starts, shift.ends, absence.from_time, absence.until_time)
    if left is None:
        return away
    starts, ends, gap = left
    tz = ZoneInfo(tz_name)
    has_break = shift.break_starts is not None and shift.break_ends is not None
    return DayShift(
        engineer.id,
        day,
        tz_name,
        working=True,
        starts_at=_at(day, starts, tz),
        ends_at=_at(day, ends, tz),
        break_starts_at=_at(day, shift.break_starts, tz) if has_break else None,  # type: ignore[arg-type]
        break_ends_at=_at(day, shift.break_ends, tz) if has_break else None,  # type: ignore[arg-type]
        gap_starts_at=_at(day, gap[0], tz) if gap else None,
        gap_ends_at=_at(day, gap[1], tz) if gap else None,
        absence_reason=absence.reason if absence is not None else None,  # part of the day away
    )


def _absent(engineer: Engineer, day: date, tz_name: str, absence: Absence | None) -> DayShift:
    reason = absence.reason if absence is not None else None
    return DayShift(engineer.id, day, tz_name, working=False, absent=True, absence_reason=reason)


def shift_problem(session: Session, engineer: Engineer, at: datetime) -> str | None:
    """Why `engineer` cannot start work at `at` (None when their shift covers it)."""
    tz = ZoneInfo(timezone_of(session, engineer))
    local = at.astimezone(tz)
    ds = day_shift(session, engineer, local.date())
    when = f"{local:%Y-%m-%d %H:%M} ({tz.key})"
    if ds.absent:
        return f"{engineer.name} is absent on {ds.day.isoformat()} ({ds.absence_reason})."
    if not ds.working or ds.starts_at is None or ds.ends_at is None:
        return (
            f"{engineer.name} has no shift on {WEEKDAYS[ds.day.weekday()]}s; {when} is outside their shifts."
        )
    hours = f"{ds.starts_at.astimezone(tz):%H:%M}–{ds.ends_at.astimezone(tz):%H:%M}"
    if not ds.starts_at <= at < ds.ends_at:
        return f"{when} is outside {engineer.name}'s shift {hours} on that day."
    if ds.break_starts_at and ds.break_ends_at and ds.break_starts_at <= at < ds.break_ends_at:
        brk = f"{ds.break_starts_at.astimezone(tz):%H:%M}–{ds.break_ends_at.astimezone(tz):%H:%M}"
        return f"{when} falls in {engineer.name}'s break {brk}."
    if ds.gap_starts_at and ds.gap_ends_at and ds.gap_starts_at <= at < ds.gap_ends_at:
        gap = f"{ds.gap_starts_at.astimezone(tz):%H:%M}–{ds.gap_ends_at.astimezone(tz):%H:%M}"
        return f"{when} falls in {engineer.name}'s absence {gap} ({ds.absence_reason})."
    return None


def list_absences(
    session: Session, engineer_id: int, *, start: date | None, end: date | None
) -> list[Absence]:
    stmt = select(Absence).where(Absence.engineer_id == engineer_id)
    if start is not None:
        stmt = stmt.where(Absence.day >= start)
    if end is not None:
        stmt = stmt.where(Absence.day <= end)
    return list(session.scalars(stmt.order_by(Absence.day)))


def add_absence(
    session: Session,
    *,
    engineer: Engineer,
    day: date,
    reason: str,
    actor: User | None,
    from_time: time | None = None,
    until_time: time | None = None,
) -> Absence:
    """Absent all `day`, from `from_time` on (work before it stands), until `until_time` (a late
    start), or between the two (a gap); the region's clock."""
    if problem := day_part.order_problem(from_time, until_time):
        refuse([{"field": "until_time", "message": problem}])
    if session.scalar(select(Absence.id).where(Absence.engineer_id == engineer.id, Absence.day == day)):
        raise Conflict(f"{engineer.name} is already marked absent on {day.isoformat()}.")
    absence = Absence(
        engineer_id=engineer.id, day=day, reason=reason, from_time=from_time, until_time=until_time
    )
    session.add(absence)
    session.flush()
    audit.record(session, actor, "engineer", engineer.id, "absence_add", {"absence": [None, day.isoformat()]})
    return absence


# Absences and on-call cover are never updated, only added and removed, so they carry no version;
# their ETag (`"v1.<tag>"`) is a tag of their fields: on SQLite a new row may get a removed one's id,
# and an If-Match (or a page's hidden tag) read from the removed row must not remove the new one.
ROW_VERSION = 1


def absence_tag(absence: Absence) -> str:
    return fields_tag(absence.engineer_id, absence.day, absence.reason, absence.from_time, absence.until_time)


def on_call_tag(row: OnCallShift) -> str:
    # in UTC: the POST's answer (the offset sent) and a later read (UTC) give the same tag
    return fields_tag(row.engineer_id, row.starts_at.astimezone(UTC), row.ends_at.astimezone(UTC), row.note)


def get_absence(session: Session, engineer: Engineer, absence_id: int) -> Absence:
    absence = session.get(Absence, absence_id)
    if absence is None or absence.engineer_id != engineer.id:
        raise NotFound(f"Absence {absence_id} does not exist for engineer {engineer.id}.")
    return absence


def get_on_call(session: Session, engineer: Engineer, on_call_id: int) -> OnCallShift:
    row = session.get(OnCallShift, on_call_id)
    if row is None or row.engineer_id != engineer.id:
        raise NotFound(f"On-call cover {on_call_id} does not exist for engineer {engineer.id}.")
    return row


def remove_absence(session: Session, *, engineer: Engineer, absence_id: int, actor: User | None) -> None:
    absence = get_absence(session, engineer, absence_id)
    audit.record(
        session,
        actor,
        "engineer",
        engineer.id,
        "absence_remove",
        {"absence": [absence.day.isoformat(), None]},
    )
    session.delete(absence)
    session.flush()


# --- on-call cover ------------------------------------------------------------------------------
ON_CALL_MAX = timedelta(days=14)


def list_on_call(
    session: Session, engineer_id: int, *, start: datetime | None, end: datetime | None
) -> list[OnCallShift]:
    stmt = select(OnCallShift).where(OnCallShift.engineer_id == engineer_id)
    if start is not None:
        stmt = stmt.where(OnCallShift.ends_at > start)
    if end is not None:
        stmt = stmt.where(OnCallShift.starts_at < end)
    return list(session.scalars(stmt.order_by(OnCallShift.starts_at)))


def add_on_call(
    session: Session,
    *,
    engineer: Engineer,
    starts_at: datetime,
    ends_at: datetime,
    note: str,
    actor: User | None,
) -> OnCallShift:
    """On-call cover for the planner (P1s and 24x7 work due that day, at a call-out cost)."""
    if ends_at <= starts_at:
        refuse([{"field": "ends_at", "message": "the on-call cover must end after it starts"}])
    if ends_at - starts_at > ON_CALL_MAX:
        refuse([{"field": "ends_at", "message": "on-call cover lasts at most 14 days; add another stretch"}])
    clash = session.scalar(
        select(OnCallShift).where(
            OnCallShift.engineer_id == engineer.id,
            OnCallShift.starts_at < ends_at,
            OnCallShift.ends_at > starts_at,
        )
    )
    if clash is not None:
        raise Conflict(
            f"{engineer.name} is already on call from {clash.starts_at.isoformat()} "
            f"to {clash.ends_at.isoformat()}."
        )
    row = OnCallShift(engineer_id=engineer.id, starts_at=starts_at, ends_at=ends_at, note=note)
    session.add(row)
    session.flush()
    audit.record(
        session, actor, "engineer", engineer.id, "on_call_add", {"on_call": [None, starts_at.isoformat()]}
    )
    return row


def remove_on_call(session: Session, *, engineer: Engineer, on_call_id: int, actor: User | None) -> None:
    row = get_on_call(session, engineer, on_call_id)
    audit.record(
        session,
        actor,
        "engineer",
        engineer.id,
        "on_call_remove",
        {"on_call": [row.starts_at.isoformat(), None]},
    )
    session.delete(row)
    session.flush()


# --- live position -----------------------------------------------------------------------------


def set_position(
    session: Session, *, engineer: Engineer, latitude: float, longitude: float, at: datetime | None
) -> bool:
    """Record a position fix; an older fix than the stored one is ignored (returns False).

    Telemetry bypasses the row version on purpose: a position ping must not invalidate a
    dispatcher's ETag for the profile, and last-fix-wins is the right merge for positions.
    """
    at = at or utcnow()
    if at > utcnow() + timedelta(minutes=5):
        raise Unprocessable(
            "at: the position time lies in the future",
            errors=[{"field": "at", "message": "must not be in the future"}],
        )
    stmt = (
        update(Engineer)
        .where(Engineer.id == engineer.id, or_(Engineer.position_at.is_(None), Engineer.position_at <= at))
        .values(current_latitude=latitude, current_longitude=longitude, position_at=at)
        .execution_options(synchronize_session=False)
    )
    applied = bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
    session.refresh(engineer)
    return applied
