"""The account's owner: the user who follows up its unhappy survey answers (docs/surveys.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.models import Account, Role, User
from app.platform import audit
from app.platform.errors import NotFound, Unprocessable

# People who call a customer back; engineers are on the road and admins are not account managers.
OWNER_ROLES = (Role.agent.value, Role.dispatcher.value, Role.manager.value)


def set_owner(session: Session, *, account: Account, owner_user_id: int | None, actor: User) -> Account:
    if owner_user_id is not None:
        owner = session.get(User, owner_user_id)
        if owner is None or not owner.is_active or owner.role not in OWNER_ROLES:
            message = f"user {owner_user_id} is not an active agent, dispatcher or manager"
            raise Unprocessable(
                f"owner_user_id: {message}", errors=[{"field": "owner_user_id", "message": message}]
            )
    changes = audit.apply_changes(account, {"owner_user_id": owner_user_id})
    if changes:
        audit.record(session, actor, "account", account.id, "owner", changes)
    session.flush()
    return account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no customer account {account_id}.")
    return account
