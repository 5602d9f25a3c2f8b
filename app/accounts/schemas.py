"""The /api/v1/users bodies. Passwords go in, never out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from app.models import Role
from app.platform.inputs import InputModel

# The role is text checked by the service with the other fields, not an enum the schema checks
# alone: a wrong role hid every other mistake of the body (docs/accounts.md "Every mistake at
# once"). The OpenAPI still lists the roles.
ROLES: list[JsonValue] = [r.value for r in Role]


class UserCreate(InputModel):
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=40, json_schema_extra={"enum": ROLES})
    password: str = Field(max_length=200)


class UserUpdate(InputModel):
    name: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=40, json_schema_extra={"enum": ROLES})
    is_active: bool | None = None


class PasswordIn(InputModel):
    password: str = Field(max_length=200)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    name: str
    role: str
    is_active: bool
    created_at: datetime
    version: int


class HandoverRead(BaseModel):
    """What an account left when it stopped working the desk (deactivated, or made an engineer)."""

    tickets_unassigned: list[str] = Field(description="numbers of its open tickets, now unassigned")
    accounts_owned: list[int] = Field(
        description="customer accounts it still owns; give them a new owner on their page "
        "(/desk/customers/{id}) or with PATCH /api/v1/customers/{id} (until then their detractors go "
        "to the recovery queue)"
    )
    detail: str


class UserEdited(UserRead):
    """The answer to an edit: the account, and `handover` when it stopped working the desk."""

    handover: HandoverRead | None = None
