"""The board's what-if pages (dispatchers, managers, admins): preview the re-plan if an engineer
stopped at a time or an emergency came in (nothing written), and publish a preview — recording
the absence, or opening the emergency's visit on its ticket — through
`app/planning/whatif.py` (a stale preview re-plans instead of publishing what was shown)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Engineer, Region
from app.planning import whatif
from app.web.board import BoardUser, _engineer_choice, _region_and_day
from app.web.shared import PageDb, PageRoute, invalid, render, require_csrf

router = APIRouter(route_class=PageRoute)


def _float(name: str, value: str, errors: dict[str, str], low: float, high: float, example: str) -> float:
    try:
        number = float(value)
    except ValueError:
        # empty: the dispatcher gave neither a ticket nor a place
        errors[name] = f"a number, e.g. {example} (or give a ticket number instead)"
        return 0.0
    if not low <= number <= high:
        errors[name] = f"between {low:g} and {high:g}"
    return number


def _cut(when: date, region: Region, absent_from: str, errors: dict[str, str]) -> datetime | None:
    try:
        clock = time.fromisoformat(absent_from) if absent_from else time(0)
    except ValueError:
        errors["absent_from"] = "a time of day, e.g. 13:30"
        return None
    return datetime.combine(when, clock, tzinfo=ZoneInfo(region.timezone))


def _emergency(
    db: Session, region: Region, form: dict[str, str], errors: dict[str, str]
) -> whatif.Emergency | None:
    """The emergency's place (the ticket's site when a ticket is named), minutes and skill."""
    minutes = form["duration_min"]
    duration = int(minutes) if minutes.isdecimal() and 5 <= int(minutes) <= 720 else 0
    if not duration:
        errors["duration_min"] = "whole minutes from 5 to 720"
    if len(form["skill"]) > 40:
        errors["skill"] = "at most 40 characters"
    if form["ticket"].strip():
        ticket, site = whatif.ticket_site(db, region.id, form["ticket"])
        form["ticket"] = ticket.number or form["ticket"]  # "1071" typed: the page names T-0001071
        lat, lon = site.latitude, site.longitude
    else:
        lat = _float("latitude", form["latitude"], errors, -90, 90, "48.137")
        lon = _float("longitude", form["longitude"], errors, -180, 180, "11.575")
    return whatif.Emergency(lat, lon, duration, form["skill"].strip()) if not errors else None


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
    absent_id, cut, emergency = None, None, None
    form = {"latitude": latitude, "longitude": longitude, "skill": skill, "duration_min": duration_min}
    form["ticket"] = ticket[:40]
    if kind == "absence":
        absent_id = _engineer_choice(db, engineer_id).id
        cut = _cut(when, chosen, absent_from, errors)
    elif kind == "emergency":
        emergency = _emergency(db, chosen, form, errors)
    else:
        errors["kind"] = "choose absence or emergency"
    if errors:
        raise invalid(errors)
    result = whatif.preview(
        db, region_id=chosen.id, day=when, absent_engineer_id=absent_id, absent_from=cut, emergency=emergency
    )
    db.rollback()  # a preview writes nothing
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
