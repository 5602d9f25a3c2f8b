"""The account's owner: the user who follows up its unhappy survey answers (docs/surveys.md);
and its language, what the customer is written to in (docs/customers.md).

Set by managers and admins on the customer page (its Owner and Language forms) or with
`PATCH /api/v1/customers/{id}`; both name the account's version, so a change made meanwhile is
not silently overwritten."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account, Role, User
from app.platform import audit, i18n
from app.platform.errors import Conflict, NotFound, Unprocessable

# People who call a customer back; engineers are on the road and admins are not account managers.
OWNER_ROLES = (Role.agent.value, Role.dispatcher.value, Role.manager.value)
STALE = (
    "Someone else changed this customer account after you opened the page. Nothing was changed; the "
    "page now shows the account as it is: choose the owner again."
)


def owner_choices(session: Session) -> list[User]:
    """Who may own an account: active agents, dispatchers and managers, by name."""
    return list(
        session.scalars(
            select(User)
            .where(User.is_active.is_(True), User.role.in_(OWNER_ROLES))
            .order_by(User.name, User.id)
        )
    )


def set_owner(
    session: Session,
    *,
    account: Account,
    owner_user_id: int | None,
    actor: User,
    version: int | None = None,
    flush: bool = True,
) -> Account:
    """`version`: the account's version the editor saw (the page's hidden field); a change since is
    refused (the API checks its If-Match before calling). `flush=False`: the caller flushes once
    with its other changes, so one request bumps the version once (PATCH /accounts/{id})."""
    if version is not None and version != account.version:
        raise Conflict(STALE)
    if owner_user_id is not None and owner_user_id != account.owner_user_id:
        owner = session.get(User, owner_user_id)
        if owner is None or not owner.is_active or owner.role not in OWNER_ROLES:
            message = f"user {owner_user_id} is not an active agent, dispatcher or manager"
            raise Unprocessable(
                f"owner_user_id: {message}", errors=[{"field": "owner_user_id", "message": message}]
            )
    changes = audit.apply_changes(account, {"owner_user_id": owner_user_id})
    if changes:
        audit.record(session, actor, "account", account.id, "owner", changes)
    if flush:
        session.flush()
    return account


STALE_LANGUAGE = (
    "Someone else changed this customer account after you opened the page. Nothing was changed; the "
    "page now shows the account as it is: choose the language again."
)


def set_language(
    session: Session,
    *,
    account: Account,
    language: str,
    actor: User,
    version: int | None = None,
    flush: bool = True,
) -> Account:
    """The language notices, survey mails and survey pages speak to this customer (an
    app.platform.i18n catalogue); `version` and `flush` as in `set_owner`."""
    if version is not None and version != account.version:
        raise Conflict(STALE_LANGUAGE)
    try:
        language = i18n.check(language)
    except ValueError as exc:
        raise Unprocessable(f"language: {exc}", errors=[{"field": "language", "message": str(exc)}]) from None
    changes = audit.apply_changes(account, {"language": language})
    if changes:
        audit.record(session, actor, "account", account.id, "language", changes)
    if flush:
        session.flush()
    return account


def get_account(session: Session, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound(f"There is no customer account {account_id}.")
    return account
