"""Writes of CRM records through the API: accounts, contacts, sites, assets (docs/customers.md
"CRM records"). The CSV import (app/integrations/crm_import) writes the same rows in bulk with the
same field checks (`rules.py`) and the same move guard (`open_work.py`); search keys follow from
the flush hook (`keys.py`) for both.

Each change is audited and becomes a webhook event (`customer.*`, `contact.*`, `site.*`,
`asset.*`) in the same transaction. Deletes keep history: a record that tickets, visits or surveys
name is not deleted (409 naming them), except a contact, who is deactivated instead (`active`
false: hidden from the caller search and the pickers, still named on its old tickets)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from app.desk.customers import open_work
from app.models import (
    Account,
    Asset,
    Contact,
    Contract,
    ProductModel,
    Region,
    Site,
    Survey,
    SurveyAnswer,
    SurveyRecovery,
    Ticket,
    User,
    WorkOrder,
)
from app.platform import audit, geocoder
from app.platform.errors import Conflict, NotFound, Unprocessable, refuse
from app.platform.events import emit

Values = Mapping[str, Any]


# --- shared -------------------------------------------------------------------------------


def get(session: Session, model: type[Any], record_id: int, what: str) -> Any:
    row = session.get(model, record_id)
    if row is None:
        raise NotFound(f"{what.capitalize()} {record_id} does not exist.")
    return row


def _external_id_free(
    session: Session, model: type[Any], external_id: str | None, own_id: int | None
) -> None:
    """The CRM id is unique per kind: a clash is a 409 naming the holder (the unique index would
    refuse it too, but as a 500 that ends the request's transaction)."""
    if external_id is None:
        return
    holder = session.scalar(select(model.id).where(model.external_id == external_id))
    if holder is not None and holder != own_id:
        raise Conflict(
            f"External id {external_id} is already used by {model.__tablename__} {holder}.",
            errors=[{"field": "external_id", "message": f"already used by {model.__tablename__} {holder}"}],
        )


def _region_id(session: Session, code: str | None, errors: list[dict[str, str]]) -> int | None:
    if code is None:
        return None
    found = session.scalar(select(Region.id).where(Region.code == code))
    if found is None:
        errors.append({"field": "region_code", "message": f"unknown region {code!r}"})
    return found


def region_code(session: Session, region_id: int | None) -> str | None:
    return session.scalar(select(Region.code).where(Region.id == region_id)) if region_id else None


def _count(session: Session, column: Any, value: int, *where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).where(column == value, *where)) or 0


def _refuse_delete(what: str, counts: Mapping[str, int], advice: str) -> None:
    named = [f"{n} {label if n == 1 else label + 's'}" for label, n in counts.items() if n]
    if named:
        raise Conflict(
            f"{what} cannot be deleted: {', '.join(named)} refer to it. {advice}",
            references={label: n for label, n in counts.items() if n},
        )


def _changed(
    session: Session,
    actor: User,
    kind: str,
    obj: Any,
    values: Values,
    event: str,
    data: Callable[[Any], dict[str, Any]],
) -> dict[str, list[Any]]:
    """Apply `values`; when something changed, audit it and emit `event` with the record as it is
    now (`data`) and what changed ({field: [old, new]})."""
    changes = audit.apply_changes(obj, values)
    if changes:
        session.flush()  # the new version, for the event
        audit.record(session, actor, kind, obj.id, "update", changes)
        payload = {**data(obj), "id": obj.id, "version": obj.version, "changes": changes, "by": actor.id}
        emit(session, event, payload)
    return changes


def _created(session: Session, actor: User, kind: str, obj: Any, event: str, data: dict[str, Any]) -> None:
    session.add(obj)
    session.flush()
    audit.record(session, actor, kind, obj.id, "create", data)
    emit(session, event, {**data, "id": obj.id, "version": obj.version, "by": actor.id})


def _deleted(session: Session, actor: User, kind: str, obj: Any, event: str) -> None:
    data = {"id": obj.id, "external_id": obj.external_id}
    session.delete(obj)
    session.flush()
    audit.record(session, actor, kind, data["id"], "delete", data)
    emit(session, event, {**data, "by": actor.id})


# --- accounts -----------------------------------------------------------------------------

_ACCOUNT_FIELDS = ("external_id", "name", "tier", "segment", "arr", "renewal_date")


def _account_values(session: Session, values: Values) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    out = {k: values[k] for k in _ACCOUNT_FIELDS if k in values}
    if "region_code" in values:
        out["region_id"] = _region_id(session, values["region_code"], errors)
    refuse(errors)
    return out


def _account_data(account: Account) -> dict[str, Any]:
    return {k: getattr(account, k) for k in (*_ACCOUNT_FIELDS, "region_id")}


def create_account(session: Session, *, values: Values, actor: User) -> Account:
    _external_id_free(session, Account, values.get("external_id"), None)
    account = Account(**_account_values(session, values))
    _created(session, actor, "account", account, "customer.created", _account_data(account))
    return account


def update_account(session: Session, account: Account, *, values: Values, actor: User) -> Account:
    _external_id_free(session, Account, values.get("external_id"), account.id)
    values = _account_values(session, values)
    _changed(session, actor, "account", account, values, "customer.updated", _account_data)
    return account


def delete_account(session: Session, account: Account, *, actor: User) -> None:
    """Only an account nothing refers to (one created by mistake): its contacts, sites, contracts,
    assets, tickets, visits and surveys are the customer's history, never deleted along with it."""
    aid = account.id
    counts = {
        "contact": _count(session, Contact.account_id, aid),
        "site": _count(session, Site.account_id, aid),
        "contract": _count(session, Contract.account_id, aid),
        "asset": _count(session, Asset.account_id, aid),
        "ticket": _count(session, Ticket.account_id, aid),
        "work order": _count(session, WorkOrder.account_id, aid),
        "survey": _count(session, Survey.account_id, aid) + _count(session, SurveyAnswer.account_id, aid),
        "survey recovery": _count(session, SurveyRecovery.account_id, aid),
    }
    _refuse_delete(
        f"Customer {aid}", counts, "Delete or move its records first; a customer with history stays."
    )
    _deleted(session, actor, "account", account, "customer.deleted")


# --- contacts -----------------------------------------------------------------------------

_CONTACT_FIELDS = ("external_id", "account_id", "name", "email", "phone", "mobile", "active")


def _contact_data(contact: Contact) -> dict[str, Any]:
    return {k: getattr(contact, k) for k in _CONTACT_FIELDS}


def _account_for(session: Session, account_id: int) -> Account:
    """The customer a body's `account_id` names: a 422 on that field when there is none."""
    account = session.get(Account, account_id)
    if account is None:
        message = f"customer {account_id} does not exist"
        raise Unprocessable(f"account_id: {message}", errors=[{"field": "account_id", "message": message}])
    return account


def create_contact(session: Session, *, values: Values, actor: User) -> Contact:
    _account_for(session, values["account_id"])
    _external_id_free(session, Contact, values.get("external_id"), None)
    contact = Contact(**{k: values[k] for k in _CONTACT_FIELDS if k in values})
    _created(session, actor, "contact", contact, "contact.created", _contact_data(contact))
    return contact


def check_contact_move(session: Session, contact: Contact, account_id: int) -> None:
    """409 when tickets that are open or can be reopened name the contact and it would leave their
    customer (a move back to it is allowed)."""
    if account_id == contact.account_id:
        return
    cases = open_work.against(open_work.of_contacts(session, [contact.id]).get(contact.id), account_id)
    if cases:
        message = open_work.move_refusal(f"contact {contact.id}", cases)
        raise Conflict(message, errors=[{"field": "account_id", "message": message}], open_cases=cases)


def update_contact(session: Session, contact: Contact, *, values: Values, actor: User) -> Contact:
    if "account_id" in values:
        _account_for(session, values["account_id"])
        check_contact_move(session, contact, values["account_id"])
    _external_id_free(session, Contact, values.get("external_id"), contact.id)
    fields = {k: values[k] for k in _CONTACT_FIELDS if k in values}
    event = "contact.updated"
    if fields.get("active") is False and contact.active:
        event = "contact.deactivated"
    _changed(session, actor, "contact", contact, fields, event, _contact_data)
    return contact


def delete_contact(session: Session, contact: Contact, *, actor: User) -> bool:
    """Delete a contact no ticket or survey names (True); one that has history is deactivated
    instead (False): the tickets keep naming who called, the answers who answered."""
    cid = contact.id
    history = (
        _count(session, Ticket.contact_id, cid)
        + _count(session, Survey.contact_id, cid)
        + _count(session, SurveyAnswer.contact_id, cid)
    )
    if not history:
        _deleted(session, actor, "contact", contact, "contact.deleted")
        return True
    if contact.active:
        _changed(session, actor, "contact", contact, {"active": False}, "contact.deactivated", _contact_data)
    return False


# --- sites --------------------------------------------------------------------------------

_SITE_FIELDS = ("external_id", "account_id", "name", "address", "latitude", "longitude", "access_notes")


def _site_data(site: Site) -> dict[str, Any]:
    return {k: getattr(site, k) for k in (*_SITE_FIELDS, "region_id")}


def _site_values(session: Session, values: Values) -> dict[str, Any]:
    errors: list[dict[str, str]] = []
    out = {k: values[k] for k in _SITE_FIELDS if k in values}
    if "region_code" in values:
        out["region_id"] = _region_id(session, values["region_code"], errors)
    refuse(errors)
    return out


_NO_GEOCODER = "required: no geocoder is configured (GEOCODER=none), so a site needs the CRM's coordinates"


def _located(address: str) -> tuple[float, float]:
    """The coordinates of a site sent without any: geocoded from its address when a geocoder is
    configured (422 naming `address` when it finds none, 503 when it does not answer), else the
    422 naming both coordinates that a site without them always was."""
    if not geocoder.enabled():
        raise Unprocessable(
            f"latitude, longitude: {_NO_GEOCODER}",
            errors=[{"field": f, "message": _NO_GEOCODER} for f in ("latitude", "longitude")],
        )
    return geocoder.coordinates(address)


def create_site(session: Session, *, values: Values, actor: User) -> Site:
    """Coordinates sent (the CRM's) win; without them the address is geocoded (docs/customers.md
    "Geocoding"), after the cheaper checks, so a refused site costs no lookup. Without a region of
    its own a site lies in its customer's region, as in the import (nothing derives a region from
    coordinates)."""
    account = _account_for(session, values["account_id"])
    _external_id_free(session, Site, values.get("external_id"), None)
    fields = _site_values(session, values)
    if fields.get("region_id") is None:
        fields["region_id"] = account.region_id
    if fields.get("latitude") is None and fields.get("longitude") is None:
        fields["latitude"], fields["longitude"] = _located(fields.get("address") or "")
    site = Site(**fields)
    _created(session, actor, "site", site, "site.created", _site_data(site))
    return site


def update_site(session: Session, site: Site, *, values: Values, actor: User) -> Site:
    """A new address without coordinates is geocoded when a geocoder is configured (without one
    the coordinates stay as they were); a coordinate sent wins, even with a new address."""
    _external_id_free(session, Site, values.get("external_id"), site.id)
    fields = _site_values(session, values)
    moved = "address" in fields and fields["address"] != site.address
    if moved and "latitude" not in fields and "longitude" not in fields and geocoder.enabled():
        fields["latitude"], fields["longitude"] = geocoder.coordinates(fields["address"])
    _changed(session, actor, "site", site, fields, "site.updated", _site_data)
    return site


def delete_site(session: Session, site: Site, *, actor: User) -> None:
    sid = site.id
    counts = {
        "asset": _count(session, Asset.site_id, sid),
        "ticket": _count(session, Ticket.site_id, sid),
        "work order": _count(session, WorkOrder.site_id, sid),
        "survey": _count(session, Survey.site_id, sid) + _count(session, SurveyAnswer.site_id, sid),
    }
    _refuse_delete(f"Site {sid}", counts, "A site with assets or history stays.")
    _deleted(session, actor, "site", site, "site.deleted")


# --- assets -------------------------------------------------------------------------------

_ASSET_FIELDS = ("external_id", "serial", "install_date", "warranty_end")


def _asset_data(asset: Asset) -> dict[str, Any]:
    return {
        k: getattr(asset, k)
        for k in (*_ASSET_FIELDS, "account_id", "site_id", "product_model_id", "contract_id")
    }


def _asset_values(session: Session, values: Values, asset: Asset | None) -> dict[str, Any]:
    """Model fields from the body's, with the references checked as the import checks them: the
    site (whose customer the asset belongs to), the product model, the contract (of that customer),
    the serial (unique: 409), warranty after installation."""
    errors: list[dict[str, str]] = []
    out: dict[str, Any] = {k: values[k] for k in _ASSET_FIELDS if k in values}
    if "site_id" in values:
        site = session.get(Site, values["site_id"])
        if site is None:
            errors.append({"field": "site_id", "message": f"site {values['site_id']} does not exist"})
        else:
            out["site_id"], out["account_id"] = site.id, site.account_id
    if "product_model_code" in values:
        code = values["product_model_code"]
        out["product_model_id"] = session.scalar(select(ProductModel.id).where(ProductModel.code == code))
        if out["product_model_id"] is None:
            errors.append({"field": "product_model_code", "message": f"unknown product model {code!r}"})
    account_id = out.get("account_id", asset.account_id if asset else None)
    if "contract_number" in values:
        out["contract_id"] = None
        if values["contract_number"] is not None:
            found = session.execute(
                select(Contract.id, Contract.account_id).where(Contract.number == values["contract_number"])
            ).first()
            if found is None:
                errors.append(
                    {"field": "contract_number", "message": f"no contract {values['contract_number']!r}"}
                )
            else:
                out["contract_id"] = found.id
    contract_id = out.get("contract_id", asset.contract_id if asset else None)
    if contract_id is not None and account_id is not None:
        owner = session.scalar(select(Contract.account_id).where(Contract.id == contract_id))
        if owner != account_id:
            errors.append({"field": "contract_number", "message": "belongs to another customer"})
    install = out.get("install_date", asset.install_date if asset else None)
    warranty = out.get("warranty_end", asset.warranty_end if asset else None)
    if install and warranty and warranty < install:
        errors.append({"field": "warranty_end", "message": "before install_date"})
    refuse(errors)
    serial = out.get("serial")
    holder = session.scalar(select(Asset.id).where(Asset.serial == serial)) if serial else None
    if holder is not None and (asset is None or holder != asset.id):
        raise Conflict(
            f"Serial {serial} is already used by asset {holder}.",
            errors=[{"field": "serial", "message": f"already used by asset {holder}"}],
        )
    return out


def check_asset_move(session: Session, asset: Asset, account_id: int) -> None:
    """409 when tickets or work orders that are open or can be reopened name the asset and it
    would leave their customer (a move back to it is allowed)."""
    if account_id == asset.account_id:
        return
    cases = open_work.against(open_work.of_assets(session, [asset.id]).get(asset.id), account_id)
    if cases:
        message = open_work.move_refusal(f"asset {asset.id}", cases)
        raise Conflict(message, errors=[{"field": "site_id", "message": message}], open_cases=cases)


def create_asset(session: Session, *, values: Values, actor: User) -> Asset:
    _external_id_free(session, Asset, values.get("external_id"), None)
    asset = Asset(**_asset_values(session, values, None))
    _created(session, actor, "asset", asset, "asset.created", _asset_data(asset))
    return asset


def update_asset(session: Session, asset: Asset, *, values: Values, actor: User) -> Asset:
    _external_id_free(session, Asset, values.get("external_id"), asset.id)
    fields = _asset_values(session, values, asset)
    if "account_id" in fields:
        check_asset_move(session, asset, fields["account_id"])
    _changed(session, actor, "asset", asset, fields, "asset.updated", _asset_data)
    return asset


def delete_asset(session: Session, asset: Asset, *, actor: User) -> None:
    aid = asset.id
    counts = {
        "ticket": _count(session, Ticket.asset_id, aid),
        "work order": _count(session, WorkOrder.asset_id, aid),
        "survey": _count(session, Survey.asset_id, aid) + _count(session, SurveyAnswer.asset_id, aid),
    }
    _refuse_delete(f"Asset {aid}", counts, "An asset with history stays; move it to another site instead.")
    _deleted(session, actor, "asset", asset, "asset.deleted")
