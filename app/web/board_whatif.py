"""The board's what-if pages (dispatchers, managers, admins): preview the re-plan if an engineer
stopped at a time or an emergency came in (nothing written), and publish a preview — recording
the absence, or opening the emergency's visit on its ticket — through
`app/planning/whatif.py` (a stale preview re-plans instead of publishing what was shown).

A what-if refused for its input (a time that is none, a ticket that does not exist, a latitude of
123) shows the board again with the form as typed and each message under its field: an error
page lost the board and what the dispatcher typed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Engineer, Region
from app.planning import whatif
from app.platform.errors import Unprocessable
from app.web.board import BoardUser, _engineer_choice, _region_and_day, board_response
from app.web.messages import page_error
from app.web.shared import PageDb, PageRoute, field_errors, invalid, render, require_csrf

router = APIRouter(route_class=PageRoute)

# The board's forms' own words for their fields: a refused what-if names them as the dispatcher
# reads them there ("Minutes", not the API's "Duration (minutes)").
LABELS = {
    "engineer_id": "Engineer",
    "absent_from": "Absent from",
    "ticket": "Emergency for ticket",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "skill": "Skill",
    "duration_min": "Minutes",
}
TYPED_MAX = 100  # what is shown back in a form; longer is no coordinate, time or ticket anyway
# 48.137, -11, 48,137 (a German keyboard's decimal comma), .5: nothing else reads as a coordinate
_COORDINATE = re.compile(r"[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)")
# 9:30 and 13.30 as people type them once the field is plain text (after a refusal); the time
# input itself sends 13:30 or 13:30:00, which `time.fromisoformat` reads
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})")
_MINUTES = re.compile(r"\d{1,4}")  # int() of 5 000 digits is a ValueError, not a number of minutes


@dataclass(frozen=True)
class Refused:
    """A what-if not previewed: which form, what was typed in it, and a message per field."""

    kind: str
    typed: dict[str, str]
    errors: dict[str, str]

    def listed(self) -> list[tuple[str, str, str]]:
        """(field, label, message) for the list above the forms; a message about no field of the
        forms ("nobody works that day") has no label."""
        return [(name, LABELS.get(name, ""), message) for name, message in self.errors.items()]


def _coordinate(name: str, value: str, errors: dict[str, str], limit: int, example: str) -> float:
    typed = value.strip()
    if not _COORDINATE.fullmatch(typed):
        # empty too: the dispatcher gave neither a ticket nor a place
        errors[name] = (
            f"a number, e.g. {example} or {example.replace('.', ',')} (or give a ticket number instead)"
        )
        return 0.0
    number = float(typed.replace(",", "."))
    if not -limit <= number <= limit:
        errors[name] = f"between -{limit} and {limit} degrees ({typed[:20]} is outside that range)"
    return number


def _clock(value: str) -> time:
    """A time of day; blank: midnight (absent all day). Raises ValueError."""
    value = value.strip()
    if not value:
        return time(0)
    if match := _CLOCK.fullmatch(value):
        return time(int(match[1]), int(match[2]))  # 25:00 raises ValueError like fromisoformat
    return time.fromisoformat(value)


def _cut(when: date, region: Region, absent_from: str, errors: dict[str, str]) -> datetime | None:
    try:
        clock = _clock(absent_from)
    except ValueError:
        errors["absent_from"] = "a time of day, e.g. 13:30"
        return None
    return datetime.combine(when, clock, tzinfo=ZoneInfo(region.timezone))


def _messages(exc: Unprocessable) -> dict[str, str]:
    """{field: message} of a refusal; one naming no field is still said (above the forms)."""
    return field_errors(exc) or {"": page_error(exc)}


def _engineer_id(db: Session, engineer_id: str, errors: dict[str, str]) -> int | None:
    try:
        return _engineer_choice(db, engineer_id).id
    except Unprocessable as exc:
        errors.update(_messages(exc))
        return None


def _emergency(
    db: Session, region: Region, form: dict[str, str], errors: dict[str, str]
) -> whatif.Emergency | None:
    """The emergency's place (the ticket's site when a ticket is named), minutes and skill."""
    minutes = form["duration_min"].strip()
    duration = int(minutes) if _MINUTES.fullmatch(minutes) and 5 <= int(minutes) <= 720 else 0
    if not duration:
        errors["duration_min"] = "whole minutes from 5 to 720"
    if len(form["skill"]) > 40:
        errors["skill"] = "at most 40 characters"
    elif form["skill"].strip():
        form["skill"] = _known_skill(db, region, form["skill"].strip(), errors)
    lat = lon = 0.0
    if form["ticket"].strip():
        try:
            ticket, site = whatif.ticket_site(db, region.id, form["ticket"])
        except Unprocessable as exc:  # none, closed, another region's: said under the ticket
            errors.update(_messages(exc))
        else:
            form["ticket"] = ticket.number or form["ticket"]  # "1071" typed: the page names T-0001071
            lat, lon = site.latitude, site.longitude
    else:
        lat = _coordinate("latitude", form["latitude"], errors, 90, "48.137")
        lon = _coordinate("longitude", form["longitude"], errors, 180, "11.575")
    return whatif.Emergency(lat, lon, duration, form["skill"].strip()) if not errors else None


def _known_skill(db: Session, region: Region, typed: str, errors: dict[str, str]) -> str:
    """The skill as the region's engineers have it ("elec" typed: ELEC). A skill none of them
    has ("zauberei", a typing mistake) is refused here: the preview said the emergency "cannot
    be served" and still offered to open and publish it."""
    known: set[str] = set()
    for skills in db.scalars(
        select(Engineer.skills).where(Engineer.region_id == region.id, Engineer.active.is_(True))
    ):
        known.update(skills or ())
    found = next((k for k in known if k.casefold() == typed.casefold()), None)
    if found is None:
        listed = ", ".join(sorted(known)) or "none"
        errors["skill"] = f"no engineer of this region has the skill “{typed}”; known skills: {listed}"
        return typed
    return found


@router.get("/board/what-if")
def what_if(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: str = "",
    day: str = "",
    kind: str = "absence",
    engineer_id: str = "",
    absent_from: str = "",
    latitude: str = "",
    longitude: str = "",
    skill: str = "",
    duration_min: str = "60",
    ticket: str = "",
) -> HTMLResponse:
    """Preview the re-plan if an engineer stopped at a time, or if an emergency came in: nothing
    is written (app/planning/whatif.py)."""
    chosen, when = _region_and_day(db, region, day)
    errors: dict[str, str] = {}
    absent_id, cut, emergency, result = None, None, None, None
    typed = {
        "engineer_id": engineer_id,
        "absent_from": absent_from,
        "ticket": ticket,
        "latitude": latitude,
        "longitude": longitude,
        "skill": skill,
        "duration_min": duration_min,
    }
    typed = {name: value[:TYPED_MAX] for name, value in typed.items()}
    form = {"latitude": latitude, "longitude": longitude, "skill": skill, "duration_min": duration_min}
    form["ticket"] = ticket[:40]
    if kind == "absence":
        absent_id = _engineer_id(db, engineer_id, errors)
        cut = _cut(when, chosen, absent_from, errors)
    elif kind == "emergency":
        emergency = _emergency(db, chosen, form, errors)
    else:
        errors["kind"] = "choose one of the two what-if forms below"
    if not errors:
        try:
            result = whatif.preview(
                db,
                region_id=chosen.id,
                day=when,
                absent_engineer_id=absent_id,
                absent_from=cut,
                emergency=emergency,
            )
        except Unprocessable as exc:  # e.g. the engineer does not work that day
            errors.update(_messages(exc))
    db.rollback()  # a preview writes nothing
    if errors or result is None:
        refused = Refused(kind, typed, errors)
        return board_response(request, db, chosen, when, whatif=refused, status_code=422)
    publish: dict[str, Any] = {
        "kind": kind,
        "as_of": result["as_of"].isoformat() if result["as_of"] else "",
        "engineer_id": absent_id or "",
        "absent_from": absent_from,
        **form,
    }
    names = dict(
        db.execute(select(Engineer.id, Engineer.name).where(Engineer.region_id == chosen.id)).tuples().all()
    )
    context = {
        "nav": "board",
        "r": result,
        "region": chosen,
        "day": when,
        "tz": chosen.timezone,
        "names": names,
        "publish": publish,
        "back": f"/board?region={chosen.id}&day={when.isoformat()}",
    }
    return render(request, "board/whatif.html", context)


@router.post("/board/what-if/publish", response_model=None)
def what_if_publish(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "absence",
    engineer_id: Annotated[str, Form()] = "",
    absent_from: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "sickness",
    ticket: Annotated[str, Form()] = "",
    latitude: Annotated[str, Form()] = "",
    longitude: Annotated[str, Form()] = "",
    skill: Annotated[str, Form()] = "",
    duration_min: Annotated[str, Form()] = "60",
    as_of: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make the previewed what-if real and publish its re-plan; a stale preview re-plans instead."""
    require_csrf(request, csrf)
    chosen, when = _region_and_day(db, region, day)
    errors: dict[str, str] = {}
    previewed_at = None
    try:
        previewed_at = datetime.fromisoformat(as_of) if as_of else None
    except ValueError:
        errors["as_of"] = "open the preview again"
    if previewed_at is not None and previewed_at.tzinfo is None:
        errors["as_of"] = "open the preview again"
    if kind == "emergency":
        if not ticket.strip():
            errors["ticket"] = "name the ticket the emergency visit is opened on"
        form = {"latitude": latitude, "longitude": longitude, "skill": skill, "duration_min": duration_min}
        emergency = _emergency(db, chosen, {**form, "ticket": ticket[:40]}, errors)
        if errors:
            raise invalid(errors)
        assert emergency is not None
        done = whatif.publish_emergency(
            db,
            region_id=chosen.id,
            day=when,
            ticket_number=ticket[:40],
            emergency=emergency,
            as_of=previewed_at,
            token=token[:200],
            actor=user,
        )
    elif kind == "absence":
        engineer = _engineer_choice(db, engineer_id)
        cut = _cut(when, chosen, absent_from, errors)
        reason = reason.strip()
        if not reason or len(reason) > 40:
            errors["reason"] = "1 to 40 characters, e.g. sickness"
        if errors:
            raise invalid(errors)
        done = whatif.publish_absence(
            db,
            region_id=chosen.id,
            day=when,
            engineer_id=engineer.id,
            absent_from=cut,
            as_of=previewed_at,
            token=token[:200],
            reason=reason,
            actor=user,
        )
    else:
        raise invalid({"kind": "choose absence or emergency"})
    db.commit()
    back = f"/board?region={chosen.id}&day={when.isoformat()}"
    flag = "whatif" if kind == "absence" else "whatif_emergency"
    if done.stale:
        return RedirectResponse(f"{back}&run={done.run.id}&done={flag}_stale", status_code=303)
    return RedirectResponse(f"{back}&done={flag}", status_code=303)
