"""Agent desk: the ticket page's routes (reply, note, status, edit, work order, call, asset); the
page itself is drawn by ``ticket_page.py``.

Every form re-renders the page with the agent's text kept when the service refuses it; an
edit based on an old version answers 409 and shows the current ticket next to the input. The
edit form also carries the values it was opened with (hidden ``base_*`` fields), so a 409 can
tell what the agent changed from what someone else saved meanwhile: a three-way merge in which
only fields both changed differently are conflicts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.desk.tickets import service as tickets
from app.field.workorders import service as workorders
from app.models import User
from app.platform.errors import AppError, Conflict
from app.web.messages import labelled, page_error
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    field_errors,
    invalid,
    local_to_utc,
    optional_id,
    require_csrf,
    too_long,
)
from app.web.ticket_page import EDIT_FIELDS, FLASH, edit_values, view

router = APIRouter(prefix="/desk/tickets", route_class=PageRoute)
CHANNEL = "desk"  # recorded on timeline and SLA events caused from these pages
LIMITS = {"subject": 300, "description": 20000, "category": 60, "text": 20000, "notes": 5000, "summary": 5000}


def _same(a: str, b: str) -> bool:
    """Equal as the form means them: browsers send CRLF line breaks, and edges are trimmed."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _refused(
    request: Request, db: Session, ticket_id: int, form: str, values: dict[str, Any], exc: AppError
) -> HTMLResponse:
    """Nothing was saved: show the page again with the agent's input and the reason."""
    db.rollback()
    state = {"input": values, "error": page_error(exc), "fields": field_errors(exc)}
    return view(
        request, db, tickets.get_ticket(db, ticket_id), status_code=exc.status_code, forms={form: state}
    )


def _done(ticket_id: int, what: str, db: Session) -> RedirectResponse:
    # Commit before answering: the browser follows the redirect at once and must see the change.
    db.commit()
    return RedirectResponse(f"/desk/tickets/{ticket_id}?done={what}", status_code=303)


@router.get("/{ticket_id}")
def ticket_page(
    ticket_id: int, request: Request, db: PageDb, user: DeskPageUser, done: str = ""
) -> HTMLResponse:
    return view(request, db, tickets.get_ticket(db, ticket_id), flash=FLASH.get(done, ""))


def _message(
    kind: str, ticket_id: int, request: Request, db: Session, user: User, text: str, csrf: str
) -> Response:
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    values = {"text": text}
    if len(text) > LIMITS["text"]:
        return _refused(request, db, ticket_id, kind, values, invalid(too_long(values, LIMITS)))
    add = tickets.add_reply if kind == "reply" else tickets.add_note
    try:
        add(db, ticket_id=ticket_id, body=text, actor=user, channel=CHANNEL)
    except AppError as exc:
        return _refused(request, db, ticket_id, kind, values, exc)
    return _done(ticket_id, kind, db)


@router.post("/{ticket_id}/reply", response_model=None)
def reply(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    text: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return _message("reply", ticket_id, request, db, user, text, csrf)


@router.post("/{ticket_id}/note", response_model=None)
def note(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    text: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    return _message("note", ticket_id, request, db, user, text, csrf)


def _version(raw: str) -> int | None:
    """The ticket version a form was rendered with; None when it is missing or not a number.

    Callers refuse None rather than pass it on: the service reads expected_version=None as "do not
    check", so a forged form, or one from a page older than the field, would overwrite unseen.
    """
    raw = raw.strip()
    # isdecimal() also passes other scripts' digits (int() reads them); 9 digits keep int() cheap.
    return int(raw) if raw.isdecimal() and len(raw) <= 9 else None


_NO_VERSION = (
    "This form does not say which version of the ticket it was opened on (the page may be from an "
    "older version of Fieldline), so nothing was saved. Reload the ticket, check it and try again."
)


@router.post("/{ticket_id}/status", response_model=None)
def change_status(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    to: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    values = {"reason": reason[:1000]}
    expected = _version(version)
    if expected is None:
        return _refused(request, db, ticket_id, "status", values, Conflict(_NO_VERSION))
    try:
        tickets.transition(
            db,
            ticket_id=ticket_id,
            to=to,
            reason=reason.strip()[:1000],
            actor=user,
            channel=CHANNEL,
            expected_version=expected,
        )
        db.flush()
    except (StaleDataError, tickets.StaleTicket):
        return _refused(request, db, ticket_id, "status", values, Conflict(_STALE))
    except AppError as exc:  # a move not allowed now, a missing reason, visits still under way
        return _refused(request, db, ticket_id, "status", values, exc)
    return _done(ticket_id, "status", db)


_STALE = (
    "Someone else changed this ticket while you were editing it, so nothing was saved. "
    "Below is the current version; your text is kept in the form — check it and save again."
)


@router.post("/{ticket_id}/edit", response_model=None)
def edit(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    subject: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    contact_id: Annotated[str, Form()] = "",
    asset_id: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    # The values the form was opened with. "has_base" tells an empty value from a form rendered
    # before bases existed (FastAPI reads an empty form value as absent).
    has_base: Annotated[str, Form()] = "",
    base_subject: Annotated[str, Form()] = "",
    base_description: Annotated[str, Form()] = "",
    base_category: Annotated[str, Form()] = "",
    base_priority: Annotated[str, Form()] = "",
    base_contact_id: Annotated[str, Form()] = "",
    base_asset_id: Annotated[str, Form()] = "",
    base_assignee_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    base = (
        {
            "subject": base_subject,
            "description": base_description,
            "category": base_category,
            "priority": base_priority,
            "contact_id": base_contact_id,
            "asset_id": base_asset_id,
            "assignee_id": base_assignee_id,
        }
        if has_base == "1"
        else {}
    )
    form = {
        "subject": subject,
        "description": description,
        "category": category,
        "priority": priority,
        "contact_id": contact_id,
        "asset_id": asset_id,
        "assignee_id": assignee_id,
    }
    ticket = tickets.get_ticket(db, ticket_id)
    errors = too_long(form, LIMITS)
    values: dict[str, Any] = {
        "subject": subject.strip(),
        "description": description,
        "category": category.strip(),
    }
    values["priority"] = priority
    for name in ("contact_id", "asset_id", "assignee_id"):
        try:
            values[name] = optional_id(form[name])
        except ValueError:
            errors[name] = "choose one from the list"
    kept = {**form, "version": version, "base": base}  # a refused form keeps its base too
    if errors:
        return _refused(request, db, ticket_id, "edit", kept, invalid(errors))
    expected = _version(version)
    if expected is None:
        # Not known to be current: show it as a stale edit (the saved ticket, the input merged onto
        # it, the current version), so a second Save cannot revert a change the agent never saw.
        return _stale_edit(
            request, db, ticket_id, form, base, error=_NO_VERSION, title="Check the ticket as saved now"
        )
    before = ticket.version
    try:
        tickets.update_ticket(
            db,
            ticket_id=ticket_id,
            values=values,
            actor=user,
            channel=CHANNEL,
            expected_version=expected,
        )
        db.flush()
    except (tickets.StaleTicket, StaleDataError):
        db.rollback()
        merged = _save_without_clash(db, user, ticket_id, form, base, values) if base else None
        return merged or _stale_edit(request, db, ticket_id, form, base)
    except AppError as exc:
        return _refused(request, db, ticket_id, "edit", kept, exc)
    return _done(ticket_id, "edit" if ticket.version != before else "unchanged", db)


def _changed_by_agent(form: dict[str, str], base: dict[str, str]) -> list[str]:
    """The fields the agent changed from the values the form was opened with (every field when
    the form had no base: one rendered before bases existed)."""
    return [f for f in EDIT_FIELDS if f not in base or not _same(form[f], base[f])]


def _clashes(form: dict[str, str], base: dict[str, str], saved: dict[str, str], mine: list[str]) -> list[str]:
    """Of the agent's changed fields, those someone else changed since, to something else."""
    return [
        f for f in mine if not _same(form[f], saved[f]) and (f not in base or not _same(saved[f], base[f]))
    ]


def _save_without_clash(
    db: Session,
    user: User,
    ticket_id: int,
    form: dict[str, str],
    base: dict[str, str],
    values: dict[str, Any],
) -> Response | None:
    """A stale edit whose changed fields nobody else touched is saved at once, those fields only (a
    second Save of the merged form asked the agent for nothing). None: a real clash, or the ticket
    moved again meanwhile: the conflict page decides."""
    current = tickets.get_ticket(db, ticket_id)
    saved = edit_values(current)
    mine = _changed_by_agent(form, base)
    if _clashes(form, base, saved, mine):
        return None
    try:
        tickets.update_ticket(
            db,
            ticket_id=ticket_id,
            values={f: values[f] for f in mine},
            actor=user,
            channel=CHANNEL,
            expected_version=current.version,
        )
        db.flush()
    except (tickets.StaleTicket, StaleDataError, AppError):
        db.rollback()
        return None
    return _done(ticket_id, "merged" if mine else "unchanged", db)


def _stale_edit(
    request: Request,
    db: Session,
    ticket_id: int,
    form: dict[str, str],
    base: dict[str, str],
    *,
    error: str = _STALE,
    title: str = "Someone else changed this ticket",
) -> HTMLResponse:
    """409: the current ticket, the agent's changes merged onto it, and the real conflicts.

    Three-way, field by field: one the agent left as opened takes the value saved now (someone
    else's change is not reverted); one the agent changed keeps the agent's value, and is a
    conflict when it was also changed since, to something else. Without a base (a form rendered
    before bases existed) every field counts as changed by the agent.
    """
    current = tickets.get_ticket(db, ticket_id)
    saved = edit_values(current)
    mine = _changed_by_agent(form, base)
    clashes = _clashes(form, base, saved, mine)
    merged: dict[str, Any] = {f: form[f] if f in mine else saved[f] for f in EDIT_FIELDS}
    taken = [f for f in EDIT_FIELDS if f not in mine and not _same(saved[f], base[f])]
    diff = [{"field": f, "current": saved[f], "yours": form[f]} for f in clashes]
    # The form now carries the current version and values as its base: saving again applies
    # the merged input, and a further concurrent change is caught and merged the same way.
    merged |= {"version": str(current.version), "base": saved}
    state = {"input": merged, "error": error, "title": title, "fields": {}, "taken": taken}
    return view(request, db, current, status_code=409, forms={"edit": state}, conflict=diff)


@router.post("/{ticket_id}/work-orders", response_model=None)
def create_work_order(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    duration_min: Annotated[str, Form()] = "60",
    appointment_start: Annotated[str, Form()] = "",
    appointment_end: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    form = {
        "duration_min": duration_min,
        "appointment_start": appointment_start,
        "appointment_end": appointment_end,
        "notes": notes,
    }
    errors = too_long(form, LIMITS)
    duration = int(duration_min) if duration_min.strip().isdecimal() else 0
    if not 5 <= duration <= 24 * 60:
        errors["duration_min"] = "between 5 and 1440 minutes"
    times: dict[str, Any] = {}
    for name in ("appointment_start", "appointment_end"):
        try:
            times[name] = local_to_utc(form[name])
        except ValueError:
            errors[name] = "not a date and time"
    if errors:
        return _refused(request, db, ticket_id, "wo", form, invalid(errors))
    try:
        workorders.create_work_order(
            db,
            ticket_id=ticket_id,
            actor=user,
            duration_min=duration,
            appointment_start_at=times["appointment_start"],
            appointment_end_at=times["appointment_end"],
            notes=notes,
        )
    except AppError as exc:
        if exc.errors:  # name what to fix in words, not internal field names
            exc = type(exc)(
                "The work order was not saved: "
                + labelled((str(e.get("field", "")), str(e["message"])) for e in exc.errors)
                + ".",
                errors=exc.errors,
            )
        return _refused(request, db, ticket_id, "wo", form, exc)
    return _done(ticket_id, "wo", db)


@router.post("/{ticket_id}/call", response_model=None)
def log_call(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    direction: Annotated[str, Form()] = "",
    duration_min: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Log a phone call with the customer (a human contact: it may be the first response)."""
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    form = {"direction": direction, "duration_min": duration_min, "summary": summary}
    errors = too_long(form, LIMITS)
    if not duration_min.strip().isdecimal():
        errors["duration_min"] = "minutes as a whole number (0 for a missed call)"
    if errors:
        return _refused(request, db, ticket_id, "call", form, invalid(errors))
    try:
        tickets.log_call(
            db,
            ticket_id=ticket_id,
            direction=direction,
            summary=summary,
            duration_min=int(duration_min),
            actor=user,
            channel=CHANNEL,
        )
    except AppError as exc:
        return _refused(request, db, ticket_id, "call", form, exc)
    return _done(ticket_id, "call", db)


@router.post("/{ticket_id}/asset", response_model=None)
def choose_asset(
    ticket_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    asset_id: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The prompt on a ticket without an asset: pick it, and the SLA follows its contract."""
    require_csrf(request, csrf)
    tickets.get_ticket(db, ticket_id)
    form = {"asset_id": asset_id}
    try:
        chosen = optional_id(asset_id)
    except ValueError:
        chosen = None
    if chosen is None:
        return _refused(request, db, ticket_id, "asset", form, invalid({"asset_id": "choose the asset"}))
    expected = _version(version)
    if expected is None:
        return _refused(request, db, ticket_id, "asset", form, Conflict(_NO_VERSION))
    try:
        tickets.update_ticket(
            db,
            ticket_id=ticket_id,
            values={"asset_id": chosen},
            actor=user,
            channel=CHANNEL,
            expected_version=expected,
        )
        db.flush()
    except (tickets.StaleTicket, StaleDataError):
        return _refused(request, db, ticket_id, "asset", form, Conflict(_STALE))
    except AppError as exc:
        return _refused(request, db, ticket_id, "asset", form, exc)
    return _done(ticket_id, "asset", db)
