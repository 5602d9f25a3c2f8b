"""The ticket page as drawn: its rows, forms and knowledge panel, for every route that answers with it.

The desk's own forms (``desk_tickets.py``) and the knowledge panel's actions (``knowledge.py``) both
answer with this page (a refused form, the "This solved it" question), so it lives here and both
import it: neither page module imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from app.desk.sla import status as sla_status
from app.desk.tickets import queries as ticket_queries
from app.desk.tickets import service as tickets
from app.knowledge import articles, search
from app.models import (
    Account,
    Asset,
    Contact,
    Engineer,
    KbTicketFeedback,
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
from app.web.shared import DESK_ROLES, assignee_name, optional_id, render
from app.web.timeline import describe

EDIT_FIELDS = ("subject", "description", "category", "priority", "contact_id", "asset_id", "assignee_id")
FLASH = {  # the page's message after a saved form (?done=<key>)
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


def edit_values(ticket: Ticket) -> dict[str, str]:
    return {f: "" if getattr(ticket, f) is None else str(getattr(ticket, f)) for f in EDIT_FIELDS}


def edit_input(ticket: Ticket) -> dict[str, Any]:
    """The edit form as opened: the saved values, and the same values as its base."""
    values = edit_values(ticket)
    return {**values, "base": dict(values)}


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


def view(
    request: Request,
    db: Session,
    ticket: Ticket,
    *,
    status_code: int = 200,
    forms: dict[str, FormState] | None = None,
    conflict: list[dict[str, str]] | None = None,
    flash: str = "",
    saved: str = "",
) -> HTMLResponse:
    """The ticket page. ``forms``: the state of forms drawn with the agent's input (refused, or
    carried over); ``saved``: the form whose save this page reports, when it is not the redirect's
    ``?done=`` (drafts.js lets that form's kept drafts go)."""
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
    forms.setdefault("edit", {"input": edit_input(ticket)})
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
        "kb": kb_panel(
            db,
            ticket,
            getattr(request.state, "page_user", None),
            symptom=forms.get("kb", {}).get("input", {}).get("symptom"),
        ),
        "forms": forms,
        "conflict": conflict,
        "flash": flash,
        "saved": saved,
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


def kb_panel(db: Session, ticket: Ticket, user: User | None, *, symptom: str | None = None) -> dict[str, Any]:
    """The suggestions panel of the ticket page, rendered on the server (it works without JS; the
    script redraws it as the agent types). "Create an article from this ticket" is offered only to
    those who may write (a dispatcher pressing it got a 403).

    ``symptom``: what the agent typed in its box, carried by a knowledge button (they send the reply
    form, which the box belongs to). The box is drawn with it and the suggestions are for it, as the
    script's query with ``subject`` would be: the script does not ask again for the text it is drawn
    with. None: the ticket's own subject."""
    context = search.ticket_context(db, ticket, subject=symptom)
    solved = db.query(KbTicketFeedback).filter_by(ticket_id=ticket.id, verdict="solved").one_or_none()
    return {
        "suggestions": search.suggest(db, context),
        "product_model": context.product_model,
        "fault_code": context.fault_code,
        "verdicts": search.verdicts(db, ticket.id),
        "solved": solved,
        "can_write": user is not None and articles.can_write(user),
        "symptom": ticket.subject if symptom is None else symptom,
    }
