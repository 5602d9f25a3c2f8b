"""/api/v1/customers: caller search and the customer 360° view (desk roles; engineers get 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.desk.customers import owner as owners
from app.desk.customers import service as customers
from app.desk.customers import view360 as customer_360
from app.desk.customers.schemas import AccountRead, AccountUpdate, Customer360, SearchResultRead
from app.platform.deps import DbSession, DeskUser, ManagerUser
from app.platform.http import IF_MATCH, etag, require_if_match

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("", response_model=SearchResultRead)
def search_customers(
    db: DbSession,
    user: DeskUser,
    q: Annotated[
        str,
        Query(
            min_length=customers.MIN_QUERY,
            max_length=200,
            description="phone number (any format), name, e-mail or asset serial",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SearchResultRead:
    """Best match first: exact phone/serial/e-mail/CRM id, then name prefixes, then substrings; when
    fewer than 3 customers match a name, near spellings follow (`match: "similar"`, closest first)."""
    return SearchResultRead.model_validate(customers.search(db, q=q, limit=limit))


@router.get("/{account_id}/360", response_model=Customer360, responses={200: {"headers": {"ETag": {}}}})
def customer_overview(account_id: int, db: DbSession, user: DeskUser, response: Response) -> Customer360:
    """Account, contacts, sites, contracts, assets with entitlement, tickets, visits, health.
    The ETag header is the account's (`"v<account.version>"`), the If-Match of `PATCH /accounts/{id}`."""
    view = customer_360.customer_360(db, account_id=account_id)
    response.headers["ETag"] = etag(view.account.version)
    return view


@router.patch("/{account_id}", dependencies=[IF_MATCH], deprecated=True)
def update_customer(
    account_id: int,
    body: AccountUpdate,
    request: Request,
    db: DbSession,
    user: ManagerUser,
    response: Response,
) -> AccountRead:
    """Deprecated: use `PATCH /accounts/{id}`, which takes `owner_user_id` and `language` along
    with the master fields (the same checks and audit, the same ETag).

    Set or clear the account's owner, set its language (`en`, `de`: what notices and surveys are
    written in), or both (managers); a field left out stays as it is. Needs If-Match with the
    account's ETag, as everywhere in the API `"v<version>"` (the ETag header of
    `GET /customers/{id}/360`, whose `account.version` is the same number): 428 without it, 412
    when it is stale."""
    account = owners.get_account(db, account_id)
    require_if_match(request, account.version)
    if "owner_user_id" in body.model_fields_set:
        owners.set_owner(db, account=account, owner_user_id=body.owner_user_id, actor=user)
    if body.language is not None:
        owners.set_language(db, account=account, language=body.language, actor=user)
    response.headers["ETag"] = etag(account.version)
    return AccountRead(owner_user_id=account.owner_user_id, language=account.language)
