"""The desk's ticket queue page: saved views, filters, SLA-risk order with a live countdown,
bulk assign / status change (plain form POST with the CSRF token), keyboard navigation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.customers.keys import name_key
from app.desk.tickets import queue
from app.models import Account, Channel, Priority, ProductModel, Role, Ticket, TicketStatus, User
from app.platform.errors import Unprocessable
from app.platform.like import LIKE_ESCAPE, like_contains
from app.web.messages import page_error
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    assignee_name,
    fmt_dt,
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


CUSTOMERS_MAX = 50  # a name matching more customers than this is too vague to list


@dataclass
class CustomerFilter:
    ids: list[int] = field(default_factory=list)  # empty: no customer filter
    note: str = ""  # what the filter understood, shown above the list
    note_href: str = ""  # a ticket the agent may have meant to open


def _customer_param(db: Session, value: str, errors: dict[str, str]) -> CustomerFilter:
    """The queue's customer filter: a customer number, a CRM id, (part of) a name, or a ticket
    number (its customer). An agent knows the name, or has the ticket number from an e-mail,
    rarely our internal customer number."""
    value = value.strip()
    if not value:
        return CustomerFilter()
    if len(value) > 200:
        errors["customer"] = "at most 200 characters"
        return CustomerFilter()
    ticket = queue.find_ticket(db, value)
    if value.isdecimal() and int(value) <= 2**31 - 1 and db.get(Account, int(value)) is not None:
        also = f" ({value} is also ticket {ticket.number}: open it from the link)" if ticket else ""
        return CustomerFilter([int(value)], f"Customer number {value}{also}.", _ticket_href(ticket))
    if ticket is not None:
        name = db.scalar(select(Account.name).where(Account.id == ticket.account_id)) or ""
        note = f"{ticket.number} is a ticket of {name}: showing that customer’s tickets."
        return CustomerFilter([ticket.account_id], note, _ticket_href(ticket))
    found = list(
        db.scalars(
            select(Account.id)
            # the folded name, as the customer search compares it: "Mueller" finds "Müller"
            .where(
                (Account.external_id == value)
                | Account.name_search.like(like_contains(name_key(value)), escape=LIKE_ESCAPE)
            )
            .order_by(Account.id)
            .limit(CUSTOMERS_MAX + 1)
        )
    )
    if not found:
        number = queue.ticket_number(value)
        errors["customer"] = (
            f"no customer number {value} and no ticket {number}"
            if value.isdecimal() and number
            else f"no ticket {number}"
            if number
            else f"no customer’s name contains “{value}”"
        )
        return CustomerFilter()
    if len(found) > CUSTOMERS_MAX:
        errors["customer"] = f"more than {CUSTOMERS_MAX} customers match “{value}”: type more of the name"
        return CustomerFilter()
    if len(found) == 1:
        return CustomerFilter(found)
    return CustomerFilter(
        found, f"{len(found)} customers match “{value}”: showing the tickets of all of them."
    )


def _ticket_href(ticket: Ticket | None) -> str:
    return f"/desk/tickets/{ticket.id}" if ticket else ""


def _query_from(
    db: Session, params: dict[str, str]
) -> tuple[queue.QueueQuery, dict[str, str], CustomerFilter]:
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
    sort = params.get("sort", "")
    if sort and sort not in queue.SORTS:  # the API's 422; silently sorting otherwise hid the typo
        errors["sort"] = "choose a sort order from the list (sla_risk or newest)"
    customer = _customer_param(db, params.get("customer", ""), errors)
    query = queue.QueueQuery(
        view=view,
        status=[status] if status and "status" not in errors else [],
        priority=[priority] if priority and "priority" not in errors else [],
        account_ids=customer.ids,
        product_model_id=_int_param("product", params.get("product", ""), errors),
        channel=channel if channel and "channel" not in errors else None,
        sla_due_before=due_before,
        team_id=_int_param("team", params.get("team", ""), errors),
        sort=sort if sort in queue.SORTS else "sla_risk",
    )
    return query, errors, customer


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
    confirm: dict[str, Any] | None = None,
) -> HTMLResponse:
    query, errors, customer = _query_from(db, params)
    rows: list[Any] = []
    after: str | None = None  # the next page's cursor: keyset pages, as the API's (queue.py)
    status_code = 200
    error = ""
    try:
        # A filter that could not be understood lists nothing: the whole queue under a filter
        # the agent believes applied ("Fischer") reads as Fischer's tickets.
        if not errors:
            rows, after = queue.list_queue(db, user, query, limit=PAGE, cursor=params.get("cursor") or None)
    except Unprocessable as exc:
        error, status_code = page_error(exc), 422
    assignees = _assignees(db)
    # Every assignee the page lists, not only those one may assign to now: a ticket left with
    # someone inactive (or an admin) showed "—", as if nobody had it, while no view lists it as unassigned.
    assigned = {t.assignee_id for t in rows if t.assignee_id is not None}
    names = {u.id: assignee_name(u) for u in db.scalars(select(User).where(User.id.in_(assigned or {-1})))}
    account_ids = {t.account_id for t in rows}
    accounts = dict(
        db.execute(select(Account.id, Account.name).where(Account.id.in_(account_ids or {-1}))).tuples().all()
    )
    if errors:
        error, status_code = "; ".join(f"{k}: {v}" for k, v in errors.items()), 422
    keep = {k: v for k, v in params.items() if k not in ("view", "cursor", "offset") and v}
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
        "more": after is not None,
        "next_href": "/desk/queue?" + urlencode({**params, "cursor": after}) if after else "",
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
        "customer_note": customer.note,
        "customer_href": customer.note_href,
        "confirm": confirm,
        "back": "/desk/queue?" + urlencode(params),
    }
    return render(request, "desk/queue.html", context, status_code=status_code)


@router.get("/desk/queue")
def queue_view(request: Request, db: PageDb, user: DeskPageUser) -> HTMLResponse:
    params = dict(request.query_params)
    done = params.pop("done", "")
    cancelled = params.pop("cancelled", "")
    flash = f"{done} ticket(s) changed." if done.isdecimal() else ""
    if flash and cancelled:
        flash += _cancelled_text(db, cancelled.split(",")[:CANCELLED_MAX])
    return queue_page(request, db, user, params, flash=flash)


CANCELLED_MAX = 200  # work-order numbers read back from the redirect


def _when(at: datetime | None) -> str:
    return fmt_dt(at, "%a %d %b, %H:%M") if at else "no time yet"


def _cancelled_text(db: Session, numbers: list[str]) -> str:
    """The result's "Visits cancelled: WO-… (T-…, Tue 08 Dec, 09:00)." Read back from the
    database, so a hand-made link cannot claim a visit was cancelled that was not."""
    visits = queue.cancelled_visits(db, [n for n in numbers if n])
    if not visits:
        return ""
    return (
        " Visits cancelled: "
        + ", ".join(f"{v.number} ({v.ticket}, {_when(v.starts_at)})" for v in visits)
        + "."
    )


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
    confirm: Annotated[str, Form()] = "",
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
    if status == TicketStatus.resolved.value and not reason.strip():
        errors["reason"] = "write the resolution: it is kept on each ticket’s timeline"
    if errors:
        raise invalid(errors)
    items = _items(ticket)
    target = back if back.startswith("/desk/queue") else "/desk/queue"
    params = dict(parse_qsl(target.partition("?")[2]))
    params.pop("done", None)
    params.pop("cancelled", None)
    # Resolving or closing cancels the tickets' visits not yet started: the agent confirms that
    # first, naming each visit. The confirmation lists the visits it covers, so a visit scheduled
    # meanwhile is asked about again rather than cancelled unseen.
    visits = queue.visits_cancelled_by(db, items, status) if status else []
    if visits and not {v.number for v in visits} <= set(confirm.split(",")):
        form = {"ticket": ticket, "assignee": assignee, "status": status, "reason": reason, "back": target}
        return queue_page(request, db, user, params, confirm=_confirmation(visits, form, len(items)))
    result = queue.bulk_apply(
        db,
        items=items,
        actor=user,
        assignee_id=assignee_id,
        unassign=unassign,
        status=status or None,
        reason=reason.strip(),
    )
    db.commit()
    if not result.refused:
        sep = "&" if "?" in target else "?"
        done: dict[str, Any] = {"done": len(result.changed)}
        if result.cancelled:
            done["cancelled"] = ",".join(result.cancelled)
        return RedirectResponse(f"{target}{sep}{urlencode(done)}", status_code=303)
    # Some were refused: show the list again (as it is now) with what happened to each.
    changed = f"{len(result.changed)} ticket(s) changed. " if result.changed else ""
    changed += _cancelled_text(db, result.cancelled).lstrip() + " " if result.cancelled else ""
    return queue_page(
        request,
        db,
        user,
        params,
        flash=f"{changed}{len(result.refused)} not changed:",
        refused=result.refused,
    )


def _confirmation(visits: list[queue.VisitToCancel], form: dict[str, Any], count: int) -> dict[str, Any]:
    """What the confirmation step shows and re-posts (the same form, plus the visits confirmed)."""
    return {
        "status": form["status"],
        "count": count,
        "emailed": form["status"] == TicketStatus.resolved.value,
        "visits": [
            {"number": v.number, "ticket": v.ticket, "status": v.status, "when": _when(v.starts_at)}
            for v in visits
        ],
        "form": form,
        "numbers": ",".join(v.number for v in visits),
    }
