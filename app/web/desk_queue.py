"""The desk's ticket queue page: saved views, filters, SLA-risk order with a live countdown,
bulk assign / status change (plain form POST with the CSRF token), keyboard navigation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import queue
from app.models import Account, Channel, Priority, ProductModel, Role, TicketStatus, User
from app.platform.errors import Unprocessable
from app.web.messages import page_error
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    invalid,
    local_to_utc,
    optional_id,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
PAGE = 50
VIEW_LABELS = {
    "mine": "My tickets",
    "team": "My team's",
    "unassigned": "Unassigned",
    "breaching_soon": "Breaching soon",
}
BULK_STATUSES = (
    TicketStatus.open.value,
    TicketStatus.waiting_on_customer.value,
    TicketStatus.resolved.value,
    TicketStatus.closed.value,
)
DESK_ASSIGNEES = (Role.agent.value, Role.dispatcher.value, Role.manager.value)


def _assignees(db: Session) -> list[User]:
    return list(
        db.scalars(
            select(User).where(User.is_active.is_(True), User.role.in_(DESK_ASSIGNEES)).order_by(User.name)
        )
    )


def _int_param(name: str, value: str, errors: dict[str, str]) -> int | None:
    try:
        return optional_id(value)
    except ValueError:
        errors[name] = "choose one from the list"
        return None


def _customer_param(db: Session, value: str, errors: dict[str, str]) -> int | None:
    """The queue's customer filter: a customer number, a CRM id, or (part of) a name that names one
    customer. An agent knows the name, not our internal number."""
    value = value.strip()
    if not value or value.isdecimal():
        return _int_param("customer", value, errors)
    if len(value) > 200:
        errors["customer"] = "at most 200 characters"
        return None
    pattern = "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    found = list(
        db.scalars(
            select(Account.id)
            .where((Account.external_id == value) | Account.name.ilike(pattern, escape="\\"))
            .order_by(Account.id)
            .limit(11)
        )
    )
    if len(found) == 1:
        return found[0]
    if not found:
        errors["customer"] = f"no customer’s name contains “{value}”"
    else:
        many = "more than 10" if len(found) > 10 else str(len(found))
        errors["customer"] = f"{many} customers match “{value}”: type more of the name"
    return None


def _query_from(db: Session, params: dict[str, str]) -> tuple[queue.QueueQuery, dict[str, str]]:
    errors: dict[str, str] = {}
    view = params.get("view") or "mine"
    if view not in queue.VIEWS:
        errors["view"] = "choose a saved view"
        view = "mine"
    status = params.get("status", "")
    if status and status not in TicketStatus.__members__:
        errors["status"] = "choose a status from the list"
    priority = params.get("priority", "")
    if priority and priority not in Priority.__members__:
        errors["priority"] = "choose a priority from the list"
    channel = params.get("channel", "")
    if channel and channel not in Channel.__members__:
        errors["channel"] = "choose a channel from the list"
    due_before: datetime | None = None
    try:
        due_before = local_to_utc(params.get("sla_due_before", ""))
    except ValueError:
        errors["sla_due_before"] = "not a date and time"
    query = queue.QueueQuery(
        view=view,
        status=[status] if status and "status" not in errors else [],
        priority=[priority] if priority and "priority" not in errors else [],
        account_id=_customer_param(db, params.get("customer", ""), errors),
        product_model_id=_int_param("product", params.get("product", ""), errors),
        channel=channel if channel and "channel" not in errors else None,
        sla_due_before=due_before,
        team_id=_int_param("team", params.get("team", ""), errors),
        sort=params.get("sort", "") if params.get("sort") in queue.SORTS else "sla_risk",
    )
    return query, errors


def _row(ticket: Any, names: dict[int, str], accounts: dict[int, str]) -> dict[str, Any]:
    metric, due = queue.next_due(ticket)
    return {
        "t": ticket,
        "customer": accounts.get(ticket.account_id, ""),
        "assignee": names.get(ticket.assignee_id or 0, ""),
        "metric": metric,
        "due": due,
    }


def queue_page(
    request: Request,
    db: Session,
    user: User,
    params: dict[str, str],
    *,
    flash: str = "",
    refused: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    query, errors = _query_from(db, params)
    raw_offset = params.get("offset", "")
    offset = int(raw_offset) if raw_offset.isdecimal() and int(raw_offset) <= 100_000 else 0
    if raw_offset and not offset and raw_offset != "0":
        errors["offset"] = "a whole number of tickets to skip"
    rows: list[Any] = []
    more = False
    status_code = 200
    error = ""
    try:
        rows, more = queue.list_queue(db, user, query, limit=PAGE, offset=offset)
    except Unprocessable as exc:
        error, status_code = page_error(exc), 422
    assignees = _assignees(db)
    names = {u.id: u.name for u in assignees}
    account_ids = {t.account_id for t in rows}
    accounts = dict(
        db.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids or {-1}))).tuples().all()
    )
    if errors:
        error, status_code = "; ".join(f"{k}: {v}" for k, v in errors.items()), 422
    keep = {k: v for k, v in params.items() if k not in ("view", "offset") and v}
    context = {
        "nav": "queue",
        "views": [
            {"key": k, "label": v, "href": "/desk/queue?" + urlencode({"view": k, **keep})}
            for k, v in VIEW_LABELS.items()
        ],
        "view": query.view,
        "view_label": VIEW_LABELS[query.view or "mine"],
        "params": params,
        "rows": [_row(t, names, accounts) for t in rows],
        "more": more,
        "next_href": "/desk/queue?" + urlencode({**params, "offset": offset + PAGE}) if more else "",
        "assignees": assignees,
        "teams": queue.visible_teams(db, user),
        "products": list(db.scalars(select(ProductModel).order_by(ProductModel.name))),
        "statuses": list(TicketStatus),
        "priorities": list(Priority),
        "channels": list(Channel),
        "bulk_statuses": BULK_STATUSES,
        "error": error,
        "flash": flash,
        "refused": refused or [],
        "back": "/desk/queue?" + urlencode(params),
    }
    return render(request, "desk/queue.html", context, status_code=status_code)


@router.get("/desk/queue")
def queue_view(request: Request, db: PageDb, user: DeskPageUser) -> HTMLResponse:
    params = dict(request.query_params)
    done = params.pop("done", "")
    flash = f"{done} ticket(s) changed." if done.isdecimal() else ""
    return queue_page(request, db, user, params, flash=flash)


def _items(values: list[str]) -> list[tuple[int, int]]:
    """'id:version' checkbox values; anything else is a forged form."""
    items = []
    for value in values:
        ticket, _, version = value.partition(":")
        if not ticket.isdecimal() or not version.isdecimal() or int(ticket) > 2**31 - 1:
            raise Unprocessable(
                "choose tickets from the list", errors=[{"field": "ticket", "message": value}]
            )
        items.append((int(ticket), int(version)))
    return items


@router.post("/desk/queue/bulk", response_model=None)
def bulk(
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    ticket: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
    assignee: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/desk/queue",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    errors: dict[str, str] = {}
    if not ticket:
        errors["ticket"] = "tick at least one ticket"
    unassign = assignee == "none"
    assignee_id = None if unassign else _int_param("assignee", "" if assignee == "me" else assignee, errors)
    if assignee == "me":
        assignee_id = user.id
    if status and status not in BULK_STATUSES:
        errors["status"] = "choose a status from the list"
    if not errors and assignee_id is None and not unassign and not status:
        errors["assignee"] = "choose an assignee or a status to apply"
    if errors:
        raise invalid(errors)
    result = queue.bulk_apply(
        db,
        items=_items(ticket),
        actor=user,
        assignee_id=assignee_id,
        unassign=unassign,
        status=status or None,
        reason=reason.strip(),
    )
    db.commit()
    target = back if back.startswith("/desk/queue") else "/desk/queue"
    if not result.refused:
        sep = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{sep}{urlencode({'done': len(result.changed)})}", status_code=303)
    # Some were refused: show the list again (as it is now) with what happened to each.
    changed = f"{len(result.changed)} ticket(s) changed. " if result.changed else ""
    params = dict(parse_qsl(target.partition("?")[2]))
    params.pop("done", None)
    return queue_page(
        request,
        db,
        user,
        params,
        flash=f"{changed}{len(result.refused)} not changed:",
        refused=result.refused,
    )
