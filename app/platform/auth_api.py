from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from app.models import User
from app.platform.auth import authenticate, issue_token, revoke_tokens
from app.platform.deps import CurrentUser, DbSession

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    user_id: int


class Me(BaseModel):
    id: int
    email: str
    name: str
    role: str


@router.post(
    "/token",
    responses={
        401: {"description": "Wrong e-mail or password"},
        429: {"description": "Too many failed sign-ins from this address; see Retry-After"},
    },
)
def token(form: Annotated[OAuth2PasswordRequestForm, Depends()], db: DbSession, request: Request) -> Token:
    """OAuth2 password flow: e-mail as username → bearer token."""
    client = request.client.host if request.client else ""
    user = db.get_one(User, authenticate(email=form.username, password=form.password, client=client))
    return Token(access_token=issue_token(user), role=user.role, user_id=user.id)


@router.get("/me")
def me(user: CurrentUser) -> Me:
    return Me(id=user.id, email=user.email, name=user.name, role=user.role)


@router.post("/logout", status_code=204)
def logout(user: CurrentUser, db: DbSession) -> Response:
    """Sign out everywhere: every token and session cookie of this user stops working."""
    revoke_tokens(db, user)
    return Response(status_code=204)
