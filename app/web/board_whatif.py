"""The board's what-if pages (dispatchers, managers, admins): preview the re-plan if an engineer
were absent (from a time, until a time, between the two, or all day) or an emergency came in
(nothing written), and publish a preview — recording the absence, or opening the emergency's
visit on its ticket — through `app/planning/whatif.py` (a stale preview re-plans instead of
publishing what was shown).

A what-if refused for its input (a time that is none, a ticket that does not exist, a latitude of
123) shows the board again with the form as typed and each message under its field: an error
page lost the board and what the dispatcher typed. So does a refused publish: 422 for a form that
is not what its preview made (a hidden field missing or changed — the preview signs them —, a
reason or ticket that is none), 409 for a preview that no longer holds (its day is over, it was
made real already, the engineer was deactivated or recorded absent by someone else, the ticket
was closed or got a visit meanwhile); the forms hold the previewed what-if, with a link that
previews it again. A refused publish writes nothing: the transaction is rolled back."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.models import Engineer, Region
from app.planning import whatif
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import AppError, Unprocessable
from app.web.board import BoardUser, _engineer_choice, _region_and_day, board_response
from app.web.messages import page_error
from app.web.shared import COORDINATE, PageDb, PageRoute, field_errors, parse_clock, render, require_csrf

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)

# The board's forms' own words for their fields: a refused what-if names them as the dispatcher
# reads them there ("Minutes", not the API's "Duration (minutes)").
LABELS = {
    "engineer_id": "Engineer",
    "absent_from": "Absent from",
    "absent_until": "Until",
    "ticket": "Emergency for ticket",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "skill": "Skill",
    "duration_min": "Minutes",
}
TYPED_MAX = 100  # what is shown back in a form; longer is no coordinate, time or ticket anyway
_MINUTES = re.compile(r"\d{1,4}")  # int() of 5 000 digits is a ValueError, not a number of minutes


@dataclass(frozen=True)
class Refused:
    """A what-if not previewed, or a preview not published: which form, what was typed in it (for
    a publish: what was previewed), and a message per field. `status` 409: the preview no longer
    holds; `again`: the address that previews it again."""

    kind: str
    typed: dict[str, str]
    errors: dict[str, str]
    step: str = "preview"  # or "publish"
    status: int = 422
    again: str = ""

    def heading(self) -> str:
        if self.step == "preview":
            return "Nothing was previewed: correct what is marked below and preview again."
        if self.status == 409:
            return (
                "Nothing was recorded or published: this preview no longer holds. Preview it again "
                "to see the re-plan of the day as it is now."
            )
        return "Nothing was recorded or published: correct what is marked below and preview again."

    def listed(self) -> list[tuple[str, str, str]]:
        """(field, label, message) for the list above the forms; a message about no field of the
        forms ("nobody works that day") has no label."""
        return [(name, LABELS.get(name, ""), message) for name, message in self.errors.items()]


def _coordinate(name: str, value: str, errors: dict[str, str], limit: int, example: str) -> float:
    typed = value.strip()
    if not COORDINATE.fullmatch(typed):
        # empty too: the dispatcher gave neither a ticket nor a place
        errors[name] = (
            f"a number, e.g. {example} or {example.replace('.', ',')} (or give a ticket number instead)"
        )
        return 0.0
    number = float(typed.replace(",", "."))
    if not -limit <= number <= limit:
        errors[name] = f"between -{limit} and {limit} degrees ({typed[:20]} is outside that range)"
    return number


def _cut(when: date, region: Region, absent_from: str, errors: dict[str, str]) -> datetime | None:
    """The moment the engineer stops: a time of day as typed (9:30 and 9.30 too, once the field is
    plain text after a refusal); blank is midnight, absent all day."""
    try:
        clock = parse_clock(absent_from) if absent_from.strip() else time(0)
    except ValueError:
        errors["absent_from"] = "a time of day, e.g. 13:30"
        return None
    return datetime.combine(when, clock, tzinfo=ZoneInfo(region.timezone))


def _until(when: date, region: Region, absent_until: str, errors: dict[str, str]) -> datetime | None:
    """The moment the engineer is back (a late start, or the end of a gap); blank: not back that
    day. Whether it comes after the start is checked as the recorded absence is (whatif._clock)."""
    if not absent_until.strip():
        return None
    try:
        clock = parse_clock(absent_until)
    except ValueError:
        errors["absent_until"] = "a time of day, e.g. 10:30 (or leave it empty: absent until the day's end)"
        return None
    return datetime.combine(when, clock, tzinfo=ZoneInfo(region.timezone))


def _messages(exc: AppError) -> dict[str, str]:
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
    due = None
    if form["ticket"].strip():
        try:
            ticket, site = whatif.ticket_site(db, region.id, form["ticket"])
        except Unprocessable as exc:  # none, closed, another region's: said under the ticket
            errors.update(_messages(exc))
        else:
            form["ticket"] = ticket.number or form["ticket"]  # "1071" typed: the page names T-0001071
            lat, lon = site.latitude, site.longitude
            due = whatif.emergency_due(ticket)
    else:
        lat = _coordinate("latitude", form["latitude"], errors, 90, "48.137")
        lon = _coordinate("longitude", form["longitude"], errors, 180, "11.575")
    return whatif.Emergency(lat, lon, duration, form["skill"].strip(), due) if not errors else None


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
    absent_until: str = "",
    latitude: str = "",
    longitude: str = "",
    skill: str = "",
    duration_min: str = "60",
    ticket: str = "",
) -> HTMLResponse:
    """Preview the re-plan if an engineer were absent (from a time, until a time, between the two,
    or all day), or if an emergency came in: nothing is written (app/planning/whatif.py)."""
    previewed_at = utcnow()  # before the load: a visit opened while it runs is "after the preview"
    chosen, when = _region_and_day(db, region, day)
    errors: dict[str, str] = {}
    absent_id, cut, until, emergency, result = None, None, None, None, None
    typed = {
        "engineer_id": engineer_id,
        "absent_from": absent_from,
        "absent_until": absent_until,
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
        until = _until(when, chosen, absent_until, errors)
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
                absent_until=until,
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
        "absent_until": absent_until,
        **form,
        "previewed_at": previewed_at.isoformat(),
    }
    publish["stamp"] = _stamp(
        {"region": str(chosen.id), "day": when.isoformat(), "token": result["token"]}
        | {name: str(publish[name]) for name in SIGNED[kind]}
    )
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


# The hidden fields of a preview's publish form, signed with the region, day and token
# (`_stamp`): a publish is made of what was previewed, or refused.
SIGNED = {
    "absence": ("kind", "as_of", "previewed_at", "engineer_id", "absent_from", "absent_until"),
    "emergency": (
        "kind",
        "as_of",
        "previewed_at",
        "latitude",
        "longitude",
        "skill",
        "duration_min",
        "ticket",
    ),
}
CONCURRENT = (
    "someone else changed this day at the same moment (another publish, a check-in); nothing was "
    "recorded or published"
)


def _stamp(fields: Mapping[str, str]) -> str:
    """The signature of a preview's publish form. A hidden field changed or missing (or the form of
    another region's or day's preview posted with this one's region and day) recorded an absence
    the dispatcher never previewed, for a day they never saw; it is also the preview's identity,
    so a second submit of it publishes nothing twice (whatif._not_yet_published)."""
    key = (get_settings().secret_key or "").encode()
    blob = json.dumps(sorted(fields.items()), separators=(",", ":"))
    return hmac.new(key, b"whatif-publish:" + blob.encode(), hashlib.sha256).hexdigest()


def _publish_target(db: Session, region: str, day: str) -> tuple[Region, date, dict[str, str]]:
    """The preview's region and day; when the form's are none, the board to answer on (the first
    region, today) and the message. No region at all: the plain 422."""
    try:
        chosen, when = _region_and_day(db, region, day)
        return chosen, when, {}
    except Unprocessable:
        pass
    errors = {"": "the form names no region and day of a preview (a hidden field is missing or was changed)"}
    for r, d in ((region, ""), ("", day)):
        try:
            chosen, when = _region_and_day(db, r, d)
            return chosen, when, errors
        except Unprocessable:
            continue
    chosen, when = _region_and_day(db, "", "")
    return chosen, when, errors


def _again(chosen: Region, when: date, kind: str, typed: Mapping[str, str]) -> str:
    """The preview of the same what-if, on the day as it is now."""
    absence = ("engineer_id", "absent_from", "absent_until")
    names = absence if kind == "absence" else LABELS.keys() - set(absence)
    query = {"region": chosen.id, "day": when.isoformat(), "kind": kind} | {
        n: typed[n] for n in sorted(names)
    }
    return f"/board/what-if?{urlencode(query)}#whatif"


def _aware(value: str) -> datetime | None:
    """An instant the preview wrote (isoformat, with its offset); blank: None. Raises ValueError."""
    if not value:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise ValueError(value)
    return at


@router.post("/board/what-if/publish", response_model=None)
def what_if_publish(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    engineer_id: Annotated[str, Form()] = "",
    absent_from: Annotated[str, Form()] = "",
    absent_until: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "sickness",
    ticket: Annotated[str, Form()] = "",
    latitude: Annotated[str, Form()] = "",
    longitude: Annotated[str, Form()] = "",
    skill: Annotated[str, Form()] = "",
    duration_min: Annotated[str, Form()] = "60",
    as_of: Annotated[str, Form()] = "",
    previewed_at: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
    stamp: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Make the previewed what-if real and publish its re-plan; a stale preview re-plans instead.
    A publish refused (422: not the previewed form or bad input; 409: the preview no longer holds)
    shows the board with the what-if kept in its form, and writes nothing."""
    require_csrf(request, csrf)
    posted = {
        "kind": kind,
        "as_of": as_of,
        "previewed_at": previewed_at,
        "engineer_id": engineer_id,
        "absent_from": absent_from,
        "absent_until": absent_until,
        "latitude": latitude,
        "longitude": longitude,
        "skill": skill,
        "duration_min": duration_min,
        "ticket": ticket,
    }
    shown = kind if kind in SIGNED else "absence"
    typed = {name: posted[name][:TYPED_MAX] for name in LABELS}
    chosen, when, errors = _publish_target(db, region, day)

    def refused(problems: Mapping[str, str], status: int) -> HTMLResponse:
        db.rollback()  # nothing of a refused publish stays, whatever was written on the way
        # no "Preview it again" for a day that is over: that preview is refused too
        again = "" if errors or whatif.day_over(chosen, when) else _again(chosen, when, shown, typed)
        answer = Refused(shown, typed, dict(problems), step="publish", status=status, again=again)
        return board_response(request, db, chosen, when, whatif=answer, status_code=status)

    if errors:
        return refused(errors, 422)
    if kind not in SIGNED:
        return refused({"": "the form names no what-if (absence or emergency): preview again"}, 422)
    signed = {"region": region, "day": day, "token": token}
    previewed_ticket = hmac.compare_digest(stamp, _stamp(signed | {n: posted[n] for n in SIGNED[kind]}))
    typed_ticket = kind == "emergency" and hmac.compare_digest(
        stamp, _stamp(signed | {n: posted[n] for n in SIGNED[kind]} | {"ticket": ""})
    )
    if not (previewed_ticket or typed_ticket):
        return refused(
            {"": "this form is not the one its preview made (a field is missing or was changed)"}, 422
        )
    try:
        moment, since = _aware(as_of), _aware(previewed_at)
    except ValueError:  # signed, so ours: an older page's
        return refused({"": "the preview's moment is unreadable"}, 422)
    # What the preview checked and the day no longer allows is a stale preview (409); what was
    # typed on the preview page (the reason, a ticket for a preview at a place) is input (422).
    previewed = {"engineer_id", "skill"} | ({"ticket"} if previewed_ticket and ticket else set())
    problems: dict[str, str] = {}
    try:
        if kind == "absence":
            engineer = _engineer_id(db, engineer_id, problems)
            cut = _cut(when, chosen, absent_from, problems)
            until = _until(when, chosen, absent_until, problems)
            reason = reason.strip()
            if not reason or len(reason) > 40:
                problems["reason"] = "Reason for the absence: 1 to 40 characters, e.g. sickness"
            if problems:
                return refused(problems, 409 if problems.keys() & previewed else 422)
            assert engineer is not None
            done = whatif.publish_absence(
                db,
                region_id=chosen.id,
                day=when,
                engineer_id=engineer,
                absent_from=cut,
                absent_until=until,
                as_of=moment,
                token=token[:200],
                reason=reason,
                actor=user,
                preview_key=stamp,
            )
        else:
            if not ticket.strip():
                problems["ticket"] = "name the ticket the emergency visit is opened on"
            emergency = _published_emergency(db, chosen, skill, duration_min, problems)
            if problems:
                return refused(problems, 409 if problems.keys() & previewed else 422)
            assert emergency is not None
            done = whatif.publish_emergency(
                db,
                region_id=chosen.id,
                day=when,
                ticket_number=ticket[:40],
                emergency=emergency,
                as_of=moment,
                token=token[:200],
                actor=user,
                preview_key=stamp,
                previewed_at=since,
            )
        db.commit()
    except AppError as exc:
        found = _messages(exc)
        stale = exc.status_code == 409 or bool(found.keys() & previewed)
        return refused(found, 409 if stale else 422)
    except (IntegrityError, StaleDataError, OperationalError):
        # two publishes of the day at once (the database's own guards: unique rows, versions,
        # a lock timeout): the other one stands
        log.warning("what-if publish for region %s on %s lost a race", chosen.id, when, exc_info=True)
        return refused({"": CONCURRENT}, 409)
    back = f"/board?region={chosen.id}&day={when.isoformat()}"
    flag = "whatif" if kind == "absence" else "whatif_emergency"
    if done.stale:
        return RedirectResponse(f"{back}&run={done.run.id}&done={flag}_stale", status_code=303)
    return RedirectResponse(f"{back}&done={flag}", status_code=303)


def _published_emergency(
    db: Session, region: Region, skill: str, duration_min: str, errors: dict[str, str]
) -> whatif.Emergency | None:
    """The previewed emergency's minutes and skill (the visit goes to the ticket's site: no place)."""
    minutes = duration_min.strip()
    duration = int(minutes) if _MINUTES.fullmatch(minutes) and 5 <= int(minutes) <= 720 else 0
    if not duration:
        errors["duration_min"] = "whole minutes from 5 to 720"
    known = ""
    if len(skill) > 40:
        errors["skill"] = "at most 40 characters"
    elif skill.strip():
        # the preview knew it; an engineer deactivated since may have been the only one with it
        known = _known_skill(db, region, skill.strip(), errors)
    return whatif.Emergency(0.0, 0.0, duration, known) if not errors else None
