"""/api/v1/accounts, /contacts, /sites, /assets: the CRM's records, written one at a time (a CRM
sync adds the caller who rang this morning and removes the one who left; the CSV import does the
bulk). docs/customers.md "CRM records".

Roles: managers and admins write accounts, sites and assets; the desk roles (agents, dispatchers,
managers, admins) create and change contacts (a hotline agent adds a new caller; a dispatcher may
attach held mail, which creates one), managers and admins delete and deactivate them. Desk roles
read; engineers get 403, as on /customers. ETags: an account's is the `"v<version>"` of
`GET /customers/{id}/360` and of the deprecated `PATCH /customers/{id}` (owner, language, which
`PATCH /accounts/{id}` now takes too); contacts, sites and assets have no created_at, so theirs
carry a tag of their fields (`http.fields_tag`), since SQLite gives a deleted row's id to the next
insert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.customers import owner as owners
from app.desk.customers import records
from app.desk.customers.records_schemas import (
    AccountCreate,
    AccountPatch,
    AccountRecord,
    AssetCreate,
    AssetPatch,
    AssetRecord,
    ContactCreate,
    ContactPatch,
    ContactRecord,
    SiteCreate,
    SitePatch,
    SiteRecord,
)
from app.models import Account, Asset, Contact, Contract, ProductModel, Region, Role, Site, User
from app.platform.deps import DbSession, DeskUser, ManagerUser, require_roles
from app.platform.errors import Forbidden
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    Page,
    etag,
    fields_tag,
    idempotent_create,
    paginate,
    require_if_match,
)

R = TypeVar("R")
ContactWriter = Annotated[User, Depends(require_roles(Role.agent, Role.dispatcher, Role.manager))]
MANAGERS = {Role.manager.value, Role.admin.value}
Limit = Annotated[int, Query(ge=1, le=200)]
ExternalId = Annotated[str | None, Query(max_length=64, description="the CRM's id")]

accounts = APIRouter(prefix="/accounts", tags=["customers"])
contacts = APIRouter(prefix="/contacts", tags=["customers"])
sites = APIRouter(prefix="/sites", tags=["customers"])
assets = APIRouter(prefix="/assets", tags=["customers"])
CREATED: dict[int | str, dict[str, Any]] = {201: {"headers": {"Location": {}, "ETag": {}}}}


def _codes(db: Session, model: Any, column: Any, ids: set[int | None]) -> dict[int, str]:
    """id → code (a region's, a product model's) of the rows a page names, in one query."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {i: c for i, c in db.execute(select(model.id, column).where(model.id.in_(wanted)))}


# --- reads and tags -------------------------------------------------------------------------


def _account_reads(db: Session, rows: Sequence[Account]) -> list[AccountRecord]:
    regions = _codes(db, Region, Region.code, {a.region_id for a in rows})
    out = []
    for a in rows:
        item = AccountRecord.model_validate(a)
        item.region_code = regions.get(a.region_id or 0)
        out.append(item)
    return out


def _contact_tag(c: Contact) -> str:
    return fields_tag(c.external_id, c.account_id, c.name, c.email, c.phone, c.mobile, c.active)


def _contact_etag(c: Contact) -> str:
    return etag(c.version, _contact_tag(c))


def _site_reads(db: Session, rows: Sequence[Site]) -> list[SiteRecord]:
    regions = _codes(db, Region, Region.code, {s.region_id for s in rows})
    out = []
    for s in rows:
        item = SiteRecord.model_validate(s)
        item.region_code = regions.get(s.region_id or 0)
        out.append(item)
    return out


def _site_tag(s: Site) -> str:
    return fields_tag(s.external_id, s.account_id, s.name, s.address, s.latitude, s.longitude)


def _site_etag(s: Site) -> str:
    return etag(s.version, _site_tag(s))


def _asset_reads(db: Session, rows: Sequence[Asset]) -> list[AssetRecord]:
    models = _codes(db, ProductModel, ProductModel.code, {a.product_model_id for a in rows})
    numbers = _codes(db, Contract, Contract.number, {a.contract_id for a in rows})
    out = []
    for a in rows:
        item = AssetRecord.model_validate(a)
        item.product_model_code = models.get(a.product_model_id)
        item.contract_number = numbers.get(a.contract_id or 0)
        out.append(item)
    return out


def _asset_tag(a: Asset) -> str:
    return fields_tag(a.external_id, a.serial, a.account_id, a.site_id, a.product_model_id)


def _asset_etag(a: Asset) -> str:
    return etag(a.version, _asset_tag(a))


def _answer(response: Response, tag: str, item: R) -> R:
    response.headers["ETag"] = tag
    return item


# --- accounts -------------------------------------------------------------------------------


@accounts.post(
    "", status_code=201, response_model=AccountRecord, responses=CREATED, dependencies=[IDEMPOTENCY_KEY]
)
def create_account(body: AccountCreate, request: Request, db: DbSession, user: ManagerUser) -> JSONResponse:
    """A new customer account (managers, admins). Honours Idempotency-Key; an `external_id` in use
    is a 409. Its owner and language are set with `PATCH /accounts/{id}`."""

    def _create() -> tuple[AccountRecord, dict[str, str]]:
        account = records.create_account(db, values=body.model_dump(), actor=user)
        return _account_reads(db, [account])[0], {
            "Location": f"/api/v1/accounts/{account.id}",
            "ETag": etag(account.version),
        }

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@accounts.get("")
def list_accounts(
    db: DbSession,
    user: DeskUser,
    external_id: ExternalId = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[AccountRecord]:
    """Newest first, keyset pages (`next_cursor`); `external_id` finds the CRM's record."""
    stmt = select(Account)
    if external_id is not None:
        stmt = stmt.where(Account.external_id == external_id)
    rows, next_cursor = paginate(db, stmt, Account.id, cursor=cursor, limit=limit)
    return Page[AccountRecord](items=_account_reads(db, rows), next_cursor=next_cursor)


@accounts.get("/{account_id}", responses={200: {"headers": {"ETag": {}}}})
def get_account(account_id: int, db: DbSession, user: DeskUser, response: Response) -> AccountRecord:
    account = records.get(db, Account, account_id, "customer")
    return _answer(response, etag(account.version), _account_reads(db, [account])[0])


@accounts.patch("/{account_id}", dependencies=[IF_MATCH])
def update_account(
    account_id: int,
    body: AccountPatch,
    request: Request,
    db: DbSession,
    user: ManagerUser,
    response: Response,
) -> AccountRecord:
    """Change master fields, the owner (`owner_user_id`, null clears it) and the language
    (managers, admins); a field left out stays. Needs If-Match. Replaces `PATCH /customers/{id}`."""
    account = records.get(db, Account, account_id, "customer")
    require_if_match(request, account.version)
    values = body.model_dump(exclude_unset=True)
    owner_set, language = "owner_user_id" in values, values.pop("language", None)
    owner_user_id = values.pop("owner_user_id", None)
    # One request, one version: every change is applied unflushed (no autoflush from the checks'
    # queries either) and flushed once, by the master fields' event (which needs the new version)
    # or below. owner.py's calls as PATCH /customers/{id} makes them: same checks, audit entries.
    with db.no_autoflush:
        if owner_set:
            owners.set_owner(db, account=account, owner_user_id=owner_user_id, actor=user, flush=False)
        if language is not None:
            owners.set_language(db, account=account, language=language, actor=user, flush=False)
        if values:
            records.update_account(db, account, values=values, actor=user)
    db.flush()
    return _answer(response, etag(account.version), _account_reads(db, [account])[0])


@accounts.delete("/{account_id}", status_code=204, dependencies=[IF_MATCH])
def delete_account(account_id: int, request: Request, db: DbSession, user: ManagerUser) -> Response:
    """Delete an account nothing refers to (needs If-Match); one with contacts, sites, contracts,
    assets, tickets, visits or surveys is a 409 naming them (`references`: counts by kind)."""
    account = records.get(db, Account, account_id, "customer")
    require_if_match(request, account.version)
    records.delete_account(db, account, actor=user)
    return Response(status_code=204)


# --- contacts -------------------------------------------------------------------------------


@contacts.post(
    "", status_code=201, response_model=ContactRecord, responses=CREATED, dependencies=[IDEMPOTENCY_KEY]
)
def create_contact(body: ContactCreate, request: Request, db: DbSession, user: ContactWriter) -> JSONResponse:
    """A new contact of a customer (desk roles). Honours Idempotency-Key."""

    def _create() -> tuple[ContactRecord, dict[str, str]]:
        contact = records.create_contact(db, values=body.model_dump(), actor=user)
        return ContactRecord.model_validate(contact), {
            "Location": f"/api/v1/contacts/{contact.id}",
            "ETag": _contact_etag(contact),
        }

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@contacts.get("")
def list_contacts(
    db: DbSession,
    user: DeskUser,
    account_id: int | None = None,
    external_id: ExternalId = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[ContactRecord]:
    """Newest first, keyset pages; those who left (`active: false`) too unless `active=true`."""
    stmt = select(Contact)
    if account_id is not None:
        stmt = stmt.where(Contact.account_id == account_id)
    if external_id is not None:
        stmt = stmt.where(Contact.external_id == external_id)
    if active is not None:
        stmt = stmt.where(Contact.active.is_(active))
    rows, next_cursor = paginate(db, stmt, Contact.id, cursor=cursor, limit=limit)
    return Page[ContactRecord](items=[ContactRecord.model_validate(c) for c in rows], next_cursor=next_cursor)


@contacts.get("/{contact_id}", responses={200: {"headers": {"ETag": {}}}})
def get_contact(contact_id: int, db: DbSession, user: DeskUser, response: Response) -> ContactRecord:
    contact = records.get(db, Contact, contact_id, "contact")
    return _answer(response, _contact_etag(contact), ContactRecord.model_validate(contact))


@contacts.patch("/{contact_id}", dependencies=[IF_MATCH])
def update_contact(
    contact_id: int,
    body: ContactPatch,
    request: Request,
    db: DbSession,
    user: ContactWriter,
    response: Response,
) -> ContactRecord:
    """Change fields (desk roles; `active` managers and admins). Needs If-Match. A new
    `account_id` while open tickets name the contact is a 409 naming them."""
    contact = records.get(db, Contact, contact_id, "contact")
    require_if_match(request, contact.version, _contact_tag(contact))
    values = body.model_dump(exclude_unset=True)
    if "active" in values and user.role not in MANAGERS:
        raise Forbidden("Marking a contact as left, or taking one back, is for managers and admins.")
    records.update_contact(db, contact, values=values, actor=user)
    db.flush()
    return _answer(response, _contact_etag(contact), ContactRecord.model_validate(contact))


@contacts.delete(
    "/{contact_id}",
    status_code=204,
    dependencies=[IF_MATCH],
    responses={
        200: {"model": ContactRecord, "description": "Deactivated: tickets or surveys name the contact"}
    },
    response_model=None,
)
def delete_contact(contact_id: int, request: Request, db: DbSession, user: ManagerUser) -> Response:
    """Delete a contact no ticket or survey names: 204. One with history is deactivated instead
    (200 with the contact, `active: false`, and its new ETag): hidden from the caller search and
    the pickers, still named on its old tickets. Needs If-Match."""
    contact = records.get(db, Contact, contact_id, "contact")
    require_if_match(request, contact.version, _contact_tag(contact))
    if records.delete_contact(db, contact, actor=user):
        return Response(status_code=204)
    db.flush()
    body = ContactRecord.model_validate(contact).model_dump(mode="json")
    return JSONResponse(body, headers={"ETag": _contact_etag(contact)})


# --- sites ----------------------------------------------------------------------------------


@sites.post("", status_code=201, response_model=SiteRecord, responses=CREATED, dependencies=[IDEMPOTENCY_KEY])
def create_site(body: SiteCreate, request: Request, db: DbSession, user: ManagerUser) -> JSONResponse:
    """A new site of a customer (managers, admins), at the CRM's coordinates; without them its
    address is geocoded when GEOCODER is set (422 naming `address` when not found, 503 with
    Retry-After when the geocoder does not answer; docs/customers.md "Geocoding"). Honours
    Idempotency-Key."""

    def _create() -> tuple[SiteRecord, dict[str, str]]:
        site = records.create_site(db, values=body.model_dump(), actor=user)
        return _site_reads(db, [site])[0], {"Location": f"/api/v1/sites/{site.id}", "ETag": _site_etag(site)}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@sites.get("")
def list_sites(
    db: DbSession,
    user: DeskUser,
    account_id: int | None = None,
    external_id: ExternalId = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[SiteRecord]:
    """Newest first, keyset pages."""
    stmt = select(Site)
    if account_id is not None:
        stmt = stmt.where(Site.account_id == account_id)
    if external_id is not None:
        stmt = stmt.where(Site.external_id == external_id)
    rows, next_cursor = paginate(db, stmt, Site.id, cursor=cursor, limit=limit)
    return Page[SiteRecord](items=_site_reads(db, rows), next_cursor=next_cursor)


@sites.get("/{site_id}", responses={200: {"headers": {"ETag": {}}}})
def get_site(site_id: int, db: DbSession, user: DeskUser, response: Response) -> SiteRecord:
    site = records.get(db, Site, site_id, "site")
    return _answer(response, _site_etag(site), _site_reads(db, [site])[0])


@sites.patch("/{site_id}", dependencies=[IF_MATCH])
def update_site(
    site_id: int, body: SitePatch, request: Request, db: DbSession, user: ManagerUser, response: Response
) -> SiteRecord:
    """Change fields (managers, admins); needs If-Match. A site stays with its customer. A new
    `address` without coordinates is geocoded when GEOCODER is set (errors as on POST)."""
    site = records.get(db, Site, site_id, "site")
    require_if_match(request, site.version, _site_tag(site))
    records.update_site(db, site, values=body.model_dump(exclude_unset=True), actor=user)
    db.flush()
    return _answer(response, _site_etag(site), _site_reads(db, [site])[0])


@sites.delete("/{site_id}", status_code=204, dependencies=[IF_MATCH])
def delete_site(site_id: int, request: Request, db: DbSession, user: ManagerUser) -> Response:
    """Delete a site without assets, tickets, visits or surveys (needs If-Match); else 409 naming them."""
    site = records.get(db, Site, site_id, "site")
    require_if_match(request, site.version, _site_tag(site))
    records.delete_site(db, site, actor=user)
    return Response(status_code=204)


# --- assets ---------------------------------------------------------------------------------


@assets.post(
    "", status_code=201, response_model=AssetRecord, responses=CREATED, dependencies=[IDEMPOTENCY_KEY]
)
def create_asset(body: AssetCreate, request: Request, db: DbSession, user: ManagerUser) -> JSONResponse:
    """A new asset at a site (managers, admins); it belongs to the site's customer. A serial or
    `external_id` in use is a 409. Honours Idempotency-Key."""

    def _create() -> tuple[AssetRecord, dict[str, str]]:
        asset = records.create_asset(db, values=body.model_dump(), actor=user)
        return _asset_reads(db, [asset])[0], {
            "Location": f"/api/v1/assets/{asset.id}",
            "ETag": _asset_etag(asset),
        }

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@assets.get("")
def list_assets(
    db: DbSession,
    user: DeskUser,
    account_id: int | None = None,
    site_id: int | None = None,
    external_id: ExternalId = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> Page[AssetRecord]:
    """Newest first, keyset pages."""
    stmt = select(Asset)
    if account_id is not None:
        stmt = stmt.where(Asset.account_id == account_id)
    if site_id is not None:
        stmt = stmt.where(Asset.site_id == site_id)
    if external_id is not None:
        stmt = stmt.where(Asset.external_id == external_id)
    rows, next_cursor = paginate(db, stmt, Asset.id, cursor=cursor, limit=limit)
    return Page[AssetRecord](items=_asset_reads(db, rows), next_cursor=next_cursor)


@assets.get("/{asset_id}", responses={200: {"headers": {"ETag": {}}}})
def get_asset(asset_id: int, db: DbSession, user: DeskUser, response: Response) -> AssetRecord:
    asset = records.get(db, Asset, asset_id, "asset")
    return _answer(response, _asset_etag(asset), _asset_reads(db, [asset])[0])


@assets.patch("/{asset_id}", dependencies=[IF_MATCH])
def update_asset(
    asset_id: int, body: AssetPatch, request: Request, db: DbSession, user: ManagerUser, response: Response
) -> AssetRecord:
    """Change fields (managers, admins); needs If-Match. A `site_id` of another customer's site
    while open tickets or work orders name the asset is a 409 naming them."""
    asset = records.get(db, Asset, asset_id, "asset")
    require_if_match(request, asset.version, _asset_tag(asset))
    records.update_asset(db, asset, values=body.model_dump(exclude_unset=True), actor=user)
    db.flush()
    return _answer(response, _asset_etag(asset), _asset_reads(db, [asset])[0])


@assets.delete("/{asset_id}", status_code=204, dependencies=[IF_MATCH])
def delete_asset(asset_id: int, request: Request, db: DbSession, user: ManagerUser) -> Response:
    """Delete an asset no ticket, visit or survey names (needs If-Match); else 409 naming them."""
    asset = records.get(db, Asset, asset_id, "asset")
    require_if_match(request, asset.version, _asset_tag(asset))
    records.delete_asset(db, asset, actor=user)
    return Response(status_code=204)
