"""The engineer profile form read into the API's body (`EngineerCreate` / `EngineerUpdate`), with
every mistake at once in the form's words: the form's own reading (times as typed, a decimal comma
in coordinates), the models' checks, the skills and the service's checks each run on what could be
read (app/web/engineers.py shows the form and saves)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.engineers.schemas import EngineerCreate, EngineerUpdate, ShiftIn
from app.models import Engineer, User
from app.platform.errors import AppError
from app.web.messages import readable
from app.web.shared import COORDINATE, field_errors, optional_id, parse_clock

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
# the one pattern of the form's fields: a skill's (app/field/engineers/schemas.py)
SKILL_MISMATCH = "a skill cannot contain quotes or backslashes"
FORM_ORDER = {
    name: i
    for i, name in enumerate(
        [*list(LABELS)[:6], *(f"{part}_{day}" for day, _ in DAYS for part in SHIFT_PARTS), "active"]
    )
}


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


def hhmm(value: time | None) -> str:
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
        text = words.format_map({"day": name} | {p: hhmm(shift.get(p)) for p in SHIFT_PARTS})
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
    if COORDINATE.fullmatch(typed):
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
                shift[part] = parse_clock(text)
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
                    problems.setdefault(*_shift_error(day, shift, part, readable(error)))
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


def parse(
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
                parsed.errors.setdefault(*_shift_error(day, {}, str(loc[2]), readable(error)))
            else:
                parsed.errors.setdefault(str(loc[0]) if loc else "", readable(error, mismatch=SKILL_MISMATCH))
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
