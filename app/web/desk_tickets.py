"""Agent desk: the ticket page (SLA, timeline, reply, note, status, edit, work order).

Every form re-renders the page with the agent's text kept when the service refuses it; an
edit based on an old version answers 409 and shows the current ticket next to the input. The
edit form also carries the values it was opened with (hidden ``base_*`` fields), so a 409 can
tell what the agent changed from what someone else saved meanwhile: a three-way merge in which
only fields both changed differently are conflicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.desk.sla import status as sla_status
from app.desk.tickets import queries as ticket_queries
from app.desk.tickets import service as tickets
from app.field.workorders import service as workorders
from app.models import (
    Account,
    Asset,
    Contact,
    Engineer,
    Part,
    PartUsage,
    Priority,
    ProductModel,
    Site,
    Ticket,
    User,
    WorkOrder,
)
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict
from app.web import knowledge as knowledge_pages
from app.web.messages import labelled, page_error
from app.web.shared import (
    DESK_ROLES,
    DeskPageUser,
    PageDb,
    PageRoute,
    assignee_name,
    field_errors,
    invalid,
    local_to_utc,
    optional_id,
    render,
    require_csrf,
    too_long,
)
from app.web.timeline import describe

router = APIRouter(prefix="/desk/tickets", route_class=PageRoute)
CHANNEL = "desk"  # recorded on timeline and SLA events caused from these pages
EDIT_FIELDS = ("subject", "description", "category", "priority", "contact_id", "asset_id", "assignee_id")
LIMITS = {"subject": 300, "description": 20000, "category": 60, "text": 20000, "notes": 5000, "summary": 5000}
FLASH = {
    "created": "Ticket created.",
    "reply": "Reply recorded; the timeline shows its e-mail to the customer.",
    "note": "Internal note added.",
    "status": "Status changed.",
    "edit": "Ticket saved.",
    "unchanged": "Nothing to save: no field was changed.",
    "merged": "Ticket saved. Someone else changed it while you were editing: your changes and theirs "
    "are both in (you changed different fields).",
    "wo": "Work order created.",
    "call": "Call logged.",
    "asset": "Asset set: the SLA now follows its contract.",
    "kb_fcr": "Article linked as the resolution: resolved at first contact.",
    "kb_solved": "Article linked as the resolution.",
    "kb_not_helpful": "Noted: the article did not help.",
}
FormState = dict[str, Any]  # {"input": {...}, "error": str, "fields": {field: message}}


@dataclass(frozen=True)
class PartUsed:
    name: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class Visit:
    """A work order as the desk reads it back to a caller: who went, and the service report."""

    work_order: WorkOrder
    engineer: str | None
    parts_used: list[PartUsed]


def load_visits(db: Session, where: ColumnElement[bool]) -> list[Visit]:
    """The work orders matching `where` with their engineer and the parts the report booked: two
    queries whatever the number of visits (the ticket page and the 360° page both list several)."""
    rows = db.execute(
        select(WorkOrder, Engineer.name)
        .outerjoin(Engineer, Engineer.id == WorkOrder.engineer_id)
        .where(where)
        .order_by(WorkOrder.id)
    ).all()
    parts: dict[int, list[PartUsed]] = {w.id: [] for w, _ in rows}
    if parts:
        # One line per part: a report may take the same part from the van and a warehouse.
        for work_order_id, name, sku, quantity in db.execute(
            select(PartUsage.work_order_id, Part.name, Part.sku, func.sum(PartUsage.quantity))
            .join(Part, Part.id == PartUsage.part_id)
            .where(PartUsage.work_order_id.in_(parts))
            .group_by(PartUsage.work_order_id, Part.id, Part.name, Part.sku)
            .order_by(PartUsage.work_order_id, Part.name)
        ):
            parts[work_order_id].append(PartUsed(name=name, sku=sku, quantity=int(quantity)))
    return [Visit(work_order=w, engineer=name, parts_used=parts[w.id]) for w, name in rows]


def visits_by_id(db: Session, ids: Sequence[int]) -> dict[int, Visit]:
    return {v.work_order.id: v for v in load_visits(db, WorkOrder.id.in_(ids))} if ids else {}


def _edit_values(ticket: Ticket) -> dict[str, str]:
    return {f: "" if getattr(ticket, f) is None else str(getattr(ticket, f)) for f in EDIT_FIELDS}


def _edit_input(ticket: Ticket) -> dict[str, Any]:
    """The edit form as opened: the saved values, and the same values as its base."""
    values = _edit_values(ticket)
    return {**values, "base": dict(values)}


def _same(a: str, b: str) -> bool:
    """Equal as the form means them: browsers send CRLF line breaks, and edges are trimmed."""
    return a.replace("\r\n", "\n").strip() == b.replace("\r\n", "\n").strip()


def _assignee_options(
    db: Session, desk_users: Sequence[User], ticket: Ticket, shown: str
) -> list[tuple[int, str]]:
    """The edit form's assignees: the active desk users, plus the ticket's own assignee (and the
    one the form shows) when they are not among them: someone made inactive or taken off the desk
    without the hand-back (old data, a fix in SQL), or past the list's cap. Without that option the
    select falls back to "— nobody —" and saving any other field would unassign the ticket."""
    listed = {u.id for u in desk_users}
    wanted = {ticket.assignee_id} if ticket.assignee_id else set()
    with suppress(ValueError):  # a forged value: the form shows it as "— nobody —", as before
        wanted.add(optional_id(shown) or 0)
    missing = wanted - listed - {0}
    extra = db.scalars(select(User).where(User.id.in_(missing))).all() if missing else []
    people = sorted([*desk_users, *extra], key=lambda u: (u.name, u.id))
    return [(u.id, assignee_name(u)) for u in people]


def _view(
    request: Request,
    db: Session,
    ticket: Ticket,
    *,
    status_code: int = 200,
    forms: dict[str, FormState] | None = None,
    conflict: list[dict[str, str]] | None = None,
    flash: str = "",
) -> HTMLResponse:
    now = utcnow()
    account = db.get_one(Account, ticket.account_id)
    contacts = db.scalars(
        # those who left are no choice, but the ticket's own contact stays shown (marked as left)
        select(Contact)
        .where(Contact.account_id == account.id, or_(Contact.active, Contact.id == ticket.contact_id))
        .order_by(Contact.name)
    ).all()
    assets = db.execute(
        select(Asset, ProductModel.name, Site.name)
        .join(ProductModel, ProductModel.id == Asset.product_model_id)
        .join(Site, Site.id == Asset.site_id)
        .where(Asset.account_id == account.id)
        .order_by(Site.name, Asset.serial)
    ).all()
    items = ticket_queries.timeline(db, ticket.id)
    actor_ids = {i["actor_id"] for i in items if i["actor_id"]} | {ticket.assignee_id or 0}
    for i in items:  # assignment events name users by id
        if i["kind"] == "assigned" and isinstance((i["data"] or {}).get("to"), int):
            actor_ids.add(i["data"]["to"])
    names = {u.id: u.name for u in db.scalars(select(User).where(User.id.in_(actor_ids)))}
    desk_users = db.scalars(
        select(User).where(User.role.in_(DESK_ROLES), User.is_active.is_(True)).order_by(User.name).limit(200)
    ).all()
    forms = forms or {}
    forms.setdefault("edit", {"input": _edit_input(ticket)})
    assignees = _assignee_options(db, desk_users, ticket, forms["edit"]["input"].get("assignee_id", ""))
    visits = load_visits(db, WorkOrder.ticket_id == ticket.id)
    context = {
        "nav": "queue",  # a ticket belongs under Tickets in the menu
        "ticket": ticket,
        "account": account,
        "contact": db.get(Contact, ticket.contact_id) if ticket.contact_id else None,
        **_ticket_asset(db, ticket, assets),
        "site": db.get(Site, ticket.site_id) if ticket.site_id else None,
        "contacts": contacts,
        "assets": assets,
        "assignee_options": assignees,
        "assignee": assignee_name(db.get(User, ticket.assignee_id)) if ticket.assignee_id else "",
        "sla": sla_status.metric_states(db, ticket, now=now),
        "timeline": [describe(i, names) for i in reversed(items)],
        "allowed": tickets.manual_next(ticket, at=now),
        "needs_asset": ticket_queries.needs_asset(ticket, {account.id} if assets else set()),
        "work_orders": [v.work_order for v in visits],
        "visits": visits,
        "priorities": list(Priority),
        "kb": knowledge_pages.ticket_panel(db, ticket, getattr(request.state, "page_user", None)),
        "forms": forms,
        "conflict": conflict,
        "flash": flash,
        "now": now,
    }
    return render(request, "desk/ticket.html", context, status_code=status_code)


def _ticket_asset(db: Session, ticket: Ticket, assets: Sequence[Any]) -> dict[str, Any]:
    """The ticket's asset (asset, model name, site name), also one that has since moved to another
    customer (the ticket keeps its history; the API still names it): then `asset_elsewhere` is
    that customer's name, shown as "(now at …)"."""
    found = next((a for a in assets if a[0].id == ticket.asset_id), None)
    if found is not None or ticket.asset_id is None:
        return {"asset": found, "asset_elsewhere": ""}
    row = db.execute(
        select(Asset, ProductModel.name, Site.name, Account.name)
        .outerjoin(ProductModel, ProductModel.id == Asset.product_model_id)
        .outerjoin(Site, Site.id == Asset.site_id)
        .outerjoin(Account, Account.id == Asset.account_id)
        .where(Asset.id == ticket.asset_id)
    ).first()
    if row is None:
        return {"asset": None, "asset_elsewhere": ""}
    return {"asset": tuple(row[:3]), "asset_elsewhere": row[3] or f"customer {row[0].account_id}"}


def _refused(
    request: Request, db: Session, ticket_id: int, form: str, values: dict[str, Any], exc: AppError
) -> HTMLResponse:
    """Nothing was saved: show the page again with the agent's input and the reason."""
    db.rollback()
    state = {"input": values, "error": page_error(exc), "fields": field_errors(exc)}
    return _view(
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
    return _view(request, db, tickets.get_ticket(db, ticket_id), flash=FLASH.get(done, ""))


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
    saved = _edit_values(current)
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
    saved = _edit_values(current)
    mine = _changed_by_agent(form, base)
    clashes = _clashes(form, base, saved, mine)
    merged: dict[str, Any] = {f: form[f] if f in mine else saved[f] for f in EDIT_FIELDS}
    taken = [f for f in EDIT_FIELDS if f not in mine and not _same(saved[f], base[f])]
    diff = [{"field": f, "current": saved[f], "yours": form[f]} for f in clashes]
    # The form now carries the current version and values as its base: saving again applies
    # the merged input, and a further concurrent change is caught and merged the same way.
    merged |= {"version": str(current.version), "base": saved}
    state = {"input": merged, "error": error, "title": title, "fields": {}, "taken": taken}
    return _view(request, db, current, status_code=409, forms={"edit": state}, conflict=diff)


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
