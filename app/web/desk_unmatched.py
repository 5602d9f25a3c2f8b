"""/desk/unmatched: mail from unknown senders held for the desk (docs/tickets.md "Inbound e-mail",
step 5). Each can be attached to a customer (the sender becomes its contact, the ticket opens
from the mail) or discarded; both forms carry the mail's version, so of two people acting on the
same mail the second is told, and no second ticket opens. Over integrations/inbound_email's
unmatched service, as the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.integrations.inbound_email import unmatched
from app.integrations.inbound_email.held import HELD
from app.models import Account, UnmatchedEmail, User
from app.platform.errors import AppError, Conflict
from app.web.messages import page_error
from app.web.shared import (
    DeskPageUser,
    PageDb,
    PageRoute,
    form_version,
    invalid,
    optional_id,
    render,
    require_csrf,
)

router = APIRouter(prefix="/desk/unmatched", route_class=PageRoute)
DONE = {"discarded": "The mail is discarded (kept for audit, no longer listed)."}


@router.get("")
def unmatched_list(request: Request, db: PageDb, user: DeskPageUser) -> HTMLResponse:
    return _list_view(request, db, user)


def _list_view(
    request: Request, db: Session, user: User, *, refused: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    rows = unmatched.list_held(db)
    ids = {r.suggested_account_id for r in rows if r.suggested_account_id is not None}
    query = select(Account.id, Account.name).where(Account.id.in_(ids))
    names: dict[int, str] = (
        {account_id: name for account_id, name in db.execute(query).tuples()} if ids else {}
    )
    context = {
        "nav": "unmatched",
        "mails": [(r, names.get(r.suggested_account_id or 0)) for r in rows],
        "held": unmatched.held_count(db),
        "flash": DONE.get(request.query_params.get("done", ""), ""),
        "refused": refused or {},
        # a mail no longer listed (attached or discarded meanwhile): its refusal shows at the top
        "refused_elsewhere": bool(refused) and all(r.id != (refused or {}).get("id") for r in rows),
    }
    return render(request, "desk/unmatched.html", context, status_code=status)


def _current(db: Session, unmatched_id: int, version: str) -> UnmatchedEmail:
    row = unmatched.get(db, unmatched_id)
    if row.status == HELD and form_version(version) != row.version:
        raise Conflict("Someone else changed this mail since you loaded the page; reload and try again.")
    return row


@router.post("/{unmatched_id}/attach", response_model=None)
def unmatched_attach(
    unmatched_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    account: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        try:
            account_id = optional_id(account)
        except ValueError:
            raise invalid({"account_id": "a customer number, e.g. 42"}) from None
        if account_id is None:
            raise invalid({"account_id": "choose the customer the sender belongs to"})
        if len(name) > 200:
            raise invalid({"name": f"at most 200 characters (you have {len(name)})"})
        row = _current(db, unmatched_id, version)
        ticket = unmatched.attach(db, row, account_id=account_id, name=name, actor=user)
    except AppError as exc:  # the list again, with what was typed and why
        db.rollback()
        refused = {"id": unmatched_id, "account": account, "name": name, "error": page_error(exc)}
        return _list_view(request, db, user, refused=refused, status=exc.status_code)
    db.commit()
    return RedirectResponse(f"/desk/tickets/{ticket.id}", status_code=303)


@router.post("/{unmatched_id}/discard", response_model=None)
def unmatched_discard(
    unmatched_id: int,
    request: Request,
    db: PageDb,
    user: DeskPageUser,
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        unmatched.discard(db, _current(db, unmatched_id, version), actor=user)
    except AppError as exc:
        db.rollback()
        refused = {"id": unmatched_id, "error": page_error(exc)}
        return _list_view(request, db, user, refused=refused, status=exc.status_code)
    db.commit()
    return RedirectResponse("/desk/unmatched?done=discarded", status_code=303)
