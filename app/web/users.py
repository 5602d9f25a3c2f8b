"""Staff accounts for admins: `/admin/users` (the list and "New account") and `/admin/users/{id}`
(name, role, active; a new password). Plain form POSTs with the CSRF token; edits carry the
account's hidden version (app/accounts/service.py refuses a stale one: a 409 page, never a silent
overwrite). A refused form comes back with what was typed, except a password."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import service as accounts
from app.field.engineers import service as engineers
from app.models import Account, Role, User
from app.platform.errors import AppError, Forbidden
from app.web.messages import page_error
from app.web.shared import (
    PageDb,
    PageRoute,
    PageUser,
    field_errors,
    form_version,
    invalid,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
OWNED_SHOWN = 50  # customer accounts listed on a deactivated account's page
ROLE_LABELS = {
    "agent": "Agent (desk, knowledge writing)",
    "dispatcher": "Dispatcher (desk, board, planning)",
    "engineer": "Engineer (own route and visits)",
    "manager": "Manager (desk, board, KPIs, teams, CSV imports)",
    "admin": "Admin (everything, accounts)",
}
DONE = {
    "created": "The account is created. Tell its owner the first password over a separate channel.",
    "saved": "The account is saved.",
    "unchanged": "Nothing to save: no field was changed.",
    "password": "The new password is set; the account was signed out on every device.",
}


def admin_user(user: PageUser) -> User:
    if user.role != Role.admin.value:
        raise Forbidden(
            f"Accounts are managed by admins. Your account ({user.email}, role {user.role}) cannot "
            "change them."
        )
    return user


AdminPageUser = Annotated[User, Depends(admin_user)]


def _list_view(request: Request, db: PageDb, form: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context = {
        "nav": "users",
        "users": accounts.list_users(db),
        "roles": ROLE_LABELS,
        "form": form,
        "flash": DONE.get(request.query_params.get("done", ""), ""),
    }
    return render(request, "admin/users.html", context, status_code=status_code)


@router.get("/admin/users")
def user_list(request: Request, db: PageDb, admin: AdminPageUser) -> HTMLResponse:
    return _list_view(request, db, {"input": {"role": "agent"}, "error": "", "fields": {}})


@router.post("/admin/users", response_model=None)
def user_create(
    request: Request,
    db: PageDb,
    admin: AdminPageUser,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    typed = {"email": email[:254], "name": name[:200], "role": role}
    try:
        user = accounts.create(db, email=email, name=name, role=role, password=password, actor=admin)
        db.flush()
    except AppError as exc:
        db.rollback()
        form = {"input": typed, "error": page_error(exc), "fields": field_errors(exc)}
        return _list_view(request, db, form, status_code=exc.status_code)
    db.commit()
    return RedirectResponse(f"/admin/users/{user.id}?done=created", status_code=303)


def _user_view(
    request: Request,
    db: Session,
    user: User,
    *,
    form: dict[str, Any] | None = None,
    password_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    typed = {"name": user.name, "role": user.role, "active": "yes" if user.is_active else "no"}
    # An account off the desk keeps the customers it owns (whose they were stays visible); the admin
    # sees them here, each linked to the Owner field of its customer page, to find each a new owner.
    owned = (
        []
        if accounts.works_the_desk(user)
        else db.scalars(
            select(Account)
            .where(Account.owner_user_id == user.id)
            .order_by(Account.name)
            .limit(OWNED_SHOWN + 1)
        ).all()
    )
    handed_back = request.query_params.get("handed_back", "")
    flash = DONE.get(request.query_params.get("done", ""), "")
    if flash and handed_back.isdecimal() and int(handed_back):
        n = int(handed_back)
        flash += f" {n} open ticket{'s' if n != 1 else ''} of theirs went back to the unassigned queue."
    context = {
        "nav": "users",
        "account": user,
        # an engineer account needs its profile (app/web/engineers.py) to get visits and a route
        "profile": engineers.engineer_for_user(db, user) if user.role == Role.engineer.value else None,
        "roles": ROLE_LABELS,
        "form": form or {"input": typed, "error": "", "fields": {}},
        "password_form": password_form,
        "flash": flash,
        "owned": owned[:OWNED_SHOWN],
        "owned_more": len(owned) > OWNED_SHOWN,
    }
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/admin/users/{user_id}")
def user_page(user_id: int, request: Request, db: PageDb, admin: AdminPageUser) -> HTMLResponse:
    return _user_view(request, db, accounts.get_user(db, user_id))


@router.post("/admin/users/{user_id}", response_model=None)
def user_save(
    user_id: int,
    request: Request,
    db: PageDb,
    admin: AdminPageUser,
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    user = accounts.get_user(db, user_id)
    if active not in ("yes", "no"):
        raise invalid({"active": "choose whether the account may sign in"})
    values = {"name": name, "role": role, "is_active": active == "yes"}
    try:
        edit = accounts.edit_user(db, user, values=values, version=form_version(version), actor=admin)
    except AppError as exc:
        db.rollback()
        user = accounts.get_user(db, user_id)
        typed = {"name": name[:200], "role": role, "active": active}
        form = {"input": typed, "error": page_error(exc), "fields": field_errors(exc)}
        return _user_view(request, db, user, form=form, status_code=exc.status_code)
    db.commit()
    handed = f"&handed_back={len(edit.handover.tickets)}" if edit.handover else ""
    return RedirectResponse(
        f"/admin/users/{user_id}?done={'saved' if edit.changed else 'unchanged'}{handed}", status_code=303
    )


@router.post("/admin/users/{user_id}/password", response_model=None)
def user_password(
    user_id: int,
    request: Request,
    db: PageDb,
    admin: AdminPageUser,
    password: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    user = accounts.get_user(db, user_id)
    try:
        accounts.set_password(db, user, password=password, version=form_version(version), actor=admin)
    except AppError as exc:
        db.rollback()
        user = accounts.get_user(db, user_id)
        refused = {"error": page_error(exc), "fields": field_errors(exc)}
        return _user_view(request, db, user, password_form=refused, status_code=exc.status_code)
    db.commit()
    return RedirectResponse(f"/admin/users/{user_id}?done=password", status_code=303)
