"""/api/v1/users: staff accounts, for admins only. Changes need If-Match with the account's ETag
(428 without, 412 stale), like the rest of the API; a new password signs its owner out everywhere."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.accounts import service as accounts
from app.accounts.schemas import HandoverRead, PasswordIn, UserCreate, UserEdited, UserRead, UserUpdate
from app.models import User
from app.platform.deps import AdminUser, DbSession
from app.platform.http import IF_MATCH, etag, require_if_match

router = APIRouter(prefix="/users", tags=["users"])


def _read(user: User, response: Response) -> UserRead:
    response.headers["ETag"] = etag(user.version)
    return UserRead.model_validate(user)


@router.get("")
def list_users(db: DbSession, admin: AdminUser) -> list[UserRead]:
    """Every account, active ones first, by name."""
    return [UserRead.model_validate(u) for u in accounts.list_users(db)]


@router.post("", status_code=201)
def create_user(body: UserCreate, db: DbSession, admin: AdminUser, response: Response) -> UserRead:
    user = accounts.create(
        db, email=body.email, name=body.name, role=body.role, password=body.password, actor=admin
    )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return _read(user, response)


@router.get("/{user_id}")
def get_user(user_id: int, db: DbSession, admin: AdminUser, response: Response) -> UserRead:
    return _read(accounts.get_user(db, user_id), response)


@router.patch("/{user_id}", dependencies=[IF_MATCH])
def update_user(
    user_id: int, body: UserUpdate, request: Request, db: DbSession, admin: AdminUser, response: Response
) -> UserEdited:
    """Name, role, active; needs If-Match. Deactivating signs the account out everywhere; an account
    that stops working the desk hands its open tickets back to the unassigned queue, and `handover`
    says which, and which customer accounts it still owns."""
    user = accounts.get_user(db, user_id)
    require_if_match(request, user.version)
    values = body.model_dump(exclude_unset=True, exclude_none=True, mode="json")
    edit = accounts.edit_user(db, user, values=values, version=user.version, actor=admin)
    out = UserEdited(**_read(user, response).model_dump())
    if edit.handover is not None:
        h = edit.handover
        out.handover = HandoverRead(
            tickets_unassigned=h.tickets, accounts_owned=h.accounts, detail=h.describe(user.name)
        )
    return out


@router.post("/{user_id}/password", status_code=204, dependencies=[IF_MATCH])
def set_password(
    user_id: int, body: PasswordIn, request: Request, db: DbSession, admin: AdminUser
) -> Response:
    """A new password (the owner forgot theirs); needs If-Match. The owner is signed out everywhere."""
    user = accounts.get_user(db, user_id)
    require_if_match(request, user.version)
    accounts.set_password(db, user, password=body.password, version=user.version, actor=admin)
    return Response(status_code=204, headers={"ETag": etag(user.version)})
