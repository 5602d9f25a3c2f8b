"""Agent desk pages: customer search, the customer 360° page and its new-ticket form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.desk.customers import owner as owners
from app.desk.customers import service as customers
from app.desk.customers import view360 as customer_360
from app.desk.customers.schemas import Customer360
from app.desk.customers.service import SearchHit
from app.desk.tickets import queue as ticket_queue
from app.desk.tickets import service as tickets
from app.models import Account, Channel, Priority, Role, User
from app.platform import i18n
from app.platform.errors import AppError, Forbidden, Unprocessable
from app.web.messages import page_error
from app.web.navigation import start_page
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    PageUser,
    assignee_name,
    desk_user,
    field_errors,
    form_version,
    invalid,
    optional_id,
    render,
    require_csrf,
    too_long,
)
from app.web.ticket_page import visits_by_id

router = APIRouter(route_class=PageRoute)
SEARCH_LIMIT = 20
MATCHED = {
    "phone": "Phone",
    "mobile": "Mobile",
    "email": "E-mail",
    "serial": "Serial",
    "account_name": "Name",
    "contact_name": "Contact",
    "external_id": "CRM id",
}
TICKET_CHANNELS = (Channel.phone.value, Channel.email.value, Channel.web.value)
LIMITS = {"subject": 300, "description": 20000}
OWNER_EDITORS = (Role.manager.value, Role.admin.value)  # as `PATCH /api/v1/customers/{id}`
QUEUE_SUMMARY = {"breaching_soon": "Breaching soon", "mine": "My tickets", "unassigned": "Unassigned"}


def hit_view(hit: SearchHit) -> dict[str, Any]:
    """One result line: the account, and why it matched (the caller's contact, the asset)."""
    parts = (
        []
        if hit.matched_field == "account_name"
        else [f"{MATCHED.get(hit.matched_field, hit.matched_field)}: {hit.value}"]
    )
    if hit.contact_name and hit.matched_field != "contact_name":
        parts.append(hit.contact_name)
    if hit.site_name:
        parts.append(hit.site_name)
    if hit.region:
        parts.append(hit.region)
    query = [f"contact={hit.contact_id}"] if hit.contact_id else []
    query += [f"asset={hit.asset_id}"] if hit.asset_id else []
    href = f"/desk/customers/{hit.account_id}" + ("?" + "&".join(query) if query else "")
    return {
        "name": hit.account_name,
        "tier": hit.tier,
        "detail": " · ".join(parts),
        "href": href,
        "similar": hit.match == "similar",  # a near spelling: listed under "similar names"
    }


def similar_heading(results: list[dict[str, Any]]) -> tuple[int, str] | None:
    """Where the near spellings start in the list and what stands above them (search.js says the same)."""
    at = next((i for i, r in enumerate(results) if r["similar"]), None)
    if at is None:
        return None
    return at, "No exact match; similar names:" if at == 0 else "Similar names:"


def found_text(shown: int, total: int, truncated: bool) -> str:
    """'3 customers found', or 'Showing 20 of 37 matches' when the list is cut (search.js says the same)."""
    if shown >= total and not truncated:
        return f"{shown} customer{'' if shown == 1 else 's'} found"
    of = f"at least {total}" if truncated else str(total)
    return f"Showing {shown} of {of} matches: type more to narrow them down."


def _search_page(request: Request, db: Session, q: str) -> HTMLResponse:
    results: list[dict[str, Any]] = []
    error = ""
    status = ""
    status_code = 200
    if q.strip():
        try:
            found = customers.search(db, q=q, limit=SEARCH_LIMIT)
            results = [hit_view(h) for h in found.items]
            status = found_text(len(found.items), found.total, found.truncated)
        except Unprocessable as exc:
            error, status_code = page_error(exc), 422
    context = {
        "nav": "search",
        "q": q,
        "results": results,
        "similar": similar_heading(results),
        "error": error,
        "status": status,
    }
    user = request.state.page_user
    if not q.strip():  # the start page: the agent's queue at a glance next to the search
        context["queue"] = [
            {
                "label": label,
                "href": f"/desk/queue?view={view}",
                "count": ticket_queue.count_capped(db, user, qq),
            }
            for view, label in QUEUE_SUMMARY.items()
            for qq in [ticket_queue.QueueQuery(view=view)]
        ]
    return render(request, "desk/search.html", context, status_code=status_code)


@router.get("/", response_model=None)
def home(request: Request, db: PageDb, user: PageUser, q: str = "") -> Response:
    start = start_page(user.role)
    if start is not None:  # each role lands on its own page; the agent's is this one
        return RedirectResponse(start, status_code=303)
    desk_user(request, user)
    return _search_page(request, db, q)


@router.get("/desk/search")
def search(request: Request, db: PageDb, user: DeskPageUser, q: str = "") -> HTMLResponse:
    """The no-JavaScript search: the same results, rendered on the server."""
    return _search_page(request, db, q)


def _new_ticket_defaults(view: Customer360, contact: int | None, asset: int | None) -> dict[str, str]:
    contacts = {c.id for c in view.contacts}
    assets = {a.id for a in view.assets}
    return {
        "contact_id": str(contact) if contact in contacts else "",
        "asset_id": str(asset) if asset in assets else "",
        "subject": "",
        "description": "",
        "priority": Priority.P3.value,
        "channel": Channel.phone.value,
    }


def _customer_page(
    request: Request,
    db: Session,
    account_id: int,
    *,
    form: dict[str, Any] | None = None,
    contact: int | None = None,
    asset: int | None = None,
    owner_form: dict[str, Any] | None = None,
    language_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    view = customer_360.customer_360(db, account_id=account_id)
    owner_id = view.account.owner_user_id
    owner = db.get(User, owner_id) if owner_id is not None else None
    page_user = getattr(request.state, "page_user", None)
    may_set = page_user is not None and page_user.role in OWNER_EDITORS
    context = {
        "nav": "search",
        "c": view,
        # the service reports of the recent visits: the agent answers "what did your engineer do?"
        "reports": visits_by_id(db, [v.id for v in view.recent_visits]),
        "form": form or {"input": _new_ticket_defaults(view, contact, asset)},
        "priorities": list(Priority),
        "channels": TICKET_CHANNELS,
        # who follows up unhappy answers; one who left the desk is named so ("Ann (inactive)")
        "owner_name": assignee_name(owner),
        "owner_choices": owners.owner_choices(db) if may_set else None,
        "owner_form": owner_form or {"error": "", "fields": {}},
        "owner_saved": request.query_params.get("done") == "owner",
        # what notices and surveys speak to this customer; staff pages stay English
        "languages": [(code, i18n.text(code, "language.name")) for code in i18n.LANGUAGES],
        "language_form": language_form or {"error": "", "fields": {}},
        "language_saved": request.query_params.get("done") == "language",
    }
    return render(request, "desk/customer.html", context, status_code=status_code)


def _edit_account(
    request: Request,
    db: Session,
    user: User,
    account_id: int,
    what: str,
    change: Callable[[Account], None],
) -> Response:
    """One of the account's settings forms (`what`: "owner", "language"): managers and admins
    only; a refusal shows the page again with the form's error, a success goes back to the form."""
    if user.role not in OWNER_EDITORS:
        raise Forbidden(
            f"An account's {what} is set by managers and admins. Your account "
            f"({user.email}, role {user.role}) cannot change it."
        )
    account = owners.get_account(db, account_id)
    try:
        change(account)
    except AppError as exc:
        db.rollback()
        form = {"error": page_error(exc), "fields": field_errors(exc)}
        forms: dict[str, Any] = {f"{what}_form": form}
        return _customer_page(request, db, account_id, status_code=exc.status_code, **forms)
    db.commit()
    return RedirectResponse(f"/desk/customers/{account_id}?done={what}#{what}", status_code=303)


@router.post("/desk/customers/{account_id}/owner", response_model=None)
def set_owner(
    account_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    owner_user_id: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Managers and admins give the account a new owner (or none: the recovery queue follows up)."""
    require_csrf(request, csrf)

    def change(account: Account) -> None:
        try:
            chosen = optional_id(owner_user_id)
        except ValueError:
            raise invalid({"owner_user_id": "choose a person from the list"}) from None
        owners.set_owner(db, account=account, owner_user_id=chosen, actor=user, version=form_version(version))

    return _edit_account(request, db, user, account_id, "owner", change)


@router.post("/desk/customers/{account_id}/language", response_model=None)
def set_language(
    account_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    language: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Managers and admins choose the language the customer is written to (as the owner)."""
    require_csrf(request, csrf)

    def change(account: Account) -> None:
        owners.set_language(db, account=account, language=language, actor=user, version=form_version(version))

    return _edit_account(request, db, user, account_id, "language", change)


@router.get("/desk/customers/{account_id}")
def customer_page(
    account_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    contact: int | None = None,
    asset: int | None = None,
) -> HTMLResponse:
    """The 360° page; `contact`/`asset` (from a search hit) preselect the new-ticket form."""
    return _customer_page(request, db, account_id, contact=contact, asset=asset)


@router.post("/desk/customers/{account_id}/tickets", response_model=None)
def create_ticket(
    account_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    subject: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "phone",
    contact_id: Annotated[str, Form()] = "",
    asset_id: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    values = {
        "subject": subject,
        "description": description,
        "priority": priority,
        "channel": channel,
        "contact_id": contact_id,
        "asset_id": asset_id,
    }
    errors = too_long(values, LIMITS)
    ids: dict[str, int | None] = {}
    for name in ("contact_id", "asset_id"):
        try:
            ids[name] = optional_id(values[name])
        except ValueError:
            errors[name] = "choose one from the list"
    if channel not in TICKET_CHANNELS:
        errors["channel"] = "choose phone, e-mail or web"
    try:
        if errors:
            raise invalid(errors)
        ticket = tickets.create_ticket(
            db,
            account_id=account_id,
            contact_id=ids["contact_id"],
            asset_id=ids["asset_id"],
            subject=subject,
            description=description,
            priority=priority,
            channel=channel,
            actor=user,
        )
    except AppError as exc:
        db.rollback()
        if exc.status_code == 404 or any(e.get("field") == "customer_id" for e in exc.errors or []):
            raise
        form = {"input": values, "error": page_error(exc), "fields": field_errors(exc)}
        return _customer_page(request, db, account_id, form=form, status_code=exc.status_code)
    # Commit before answering: the browser follows the redirect at once and must see the ticket.
    db.commit()
    return RedirectResponse(f"/desk/tickets/{ticket.id}?done=created", status_code=303)
