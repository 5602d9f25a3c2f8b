"""Bodies of the CRM record API (`records_api.py`): accounts, contacts, sites, assets.

Field limits are the columns' (and the CSV import's); e-mail, phone and tier are read by the checks
the import uses (`rules.py`), so both writers store the same values. Updates change only the fields
sent; a field that may not be empty refuses null, naming it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.desk.customers import rules
from app.desk.customers.schemas import AccountSettings
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel

_OUT = ConfigDict(from_attributes=True)
ExternalId = Annotated[str, Field(min_length=1, max_length=64, description="the CRM's id; unique")]
RegionCode = Annotated[str, Field(min_length=1, max_length=32, description="a region's code")]
Tier = Annotated[str, Field(max_length=20, json_schema_extra={"enum": list(rules.TIERS)})]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Email = Annotated[str, Field(max_length=254)]
Phone = Annotated[str, Field(max_length=40)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def _no_nulls(model: BaseModel, *names: str) -> None:
    refuse_fields(
        model,
        {n: "cannot be null" for n in names if n in model.model_fields_set and getattr(model, n) is None},
    )


def _something(model: BaseModel) -> None:
    if not model.model_fields_set:
        refuse_fields(model, {"body": "send at least one field to change"})


class _Checked(InputModel):
    """E-mail, phones and tier read as the CSV import reads them (`rules`), so a refusal names the
    field with the import's words ("email: not an e-mail address")."""

    @field_validator("email", check_fields=False)
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else rules.email(value)

    @field_validator("phone", "mobile", check_fields=False)
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else rules.phone(value)

    @field_validator("tier", check_fields=False)
    @classmethod
    def _tier(cls, value: str | None) -> str | None:
        return None if value is None else rules.tier(value)


# --- accounts -------------------------------------------------------------------------------


class AccountCreate(_Checked):
    external_id: ExternalId | None = None
    name: str = Field(min_length=1, max_length=200)
    tier: Tier = "standard"
    segment: str = Field(default="", max_length=40)
    region_code: RegionCode | None = None
    arr: Money | None = None
    renewal_date: date | None = None


class AccountPatch(_Checked, AccountSettings):
    """The account's master fields, its owner and its language (set by the same service calls as
    the deprecated `PATCH /customers/{id}`: same checks, same audit)."""

    external_id: ExternalId | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tier: Tier | None = None
    segment: str | None = Field(default=None, max_length=40)
    region_code: RegionCode | None = None
    arr: Money | None = None
    renewal_date: date | None = None

    @model_validator(mode="after")
    def _check(self) -> AccountPatch:
        _something(self)
        _no_nulls(self, "name", "tier", "segment")
        return self


class AccountRecord(BaseModel):
    model_config = _OUT
    id: int
    external_id: str | None
    name: str
    tier: str
    segment: str
    region_id: int | None
    region_code: str | None = None
    arr: Decimal | None
    renewal_date: date | None
    owner_user_id: int | None
    language: str
    version: int


# --- contacts -------------------------------------------------------------------------------


class ContactCreate(_Checked):
    external_id: ExternalId | None = None
    account_id: int
    name: str = Field(min_length=1, max_length=200)
    email: Email | None = None
    phone: Phone | None = None
    mobile: Phone | None = None


class ContactPatch(_Checked):
    """`account_id` moves the contact to another customer (refused while open tickets name it);
    `active` (managers, admins) takes a contact who left back, or marks one as left."""

    external_id: ExternalId | None = None
    account_id: int | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: Email | None = None
    phone: Phone | None = None
    mobile: Phone | None = None
    active: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> ContactPatch:
        _something(self)
        _no_nulls(self, "account_id", "name", "active")
        return self


class ContactRecord(BaseModel):
    model_config = _OUT
    id: int
    external_id: str | None
    account_id: int
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    active: bool  # false: left the customer (hidden from search and pickers, kept on old tickets)
    survey_opt_out: bool
    version: int


# --- sites ----------------------------------------------------------------------------------


class SiteCreate(InputModel):
    external_id: ExternalId | None = None
    account_id: int
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(default="", max_length=300)
    latitude: Latitude | None = Field(
        default=None,
        description="the CRM's coordinates, which win; left out with longitude, the address is "
        "geocoded (GEOCODER; with none configured they are required)",
    )
    longitude: Longitude | None = None
    region_code: RegionCode | None = Field(default=None, description="none: the customer's region")
    access_notes: str = Field(default="", max_length=5000)

    @model_validator(mode="after")
    def _check(self) -> SiteCreate:
        # Coordinates come in pairs: one alone is neither the CRM's point nor a reason to geocode.
        if self.latitude is None and self.longitude is not None:
            refuse_fields(self, {"latitude": "required with longitude"})
        if self.longitude is None and self.latitude is not None:
            refuse_fields(self, {"longitude": "required with latitude"})
        return self


class SitePatch(InputModel):
    """A site stays with its customer (its assets, tickets and visits are that customer's): no
    `account_id`; a site of another customer is a new site."""

    external_id: ExternalId | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    latitude: Latitude | None = None
    longitude: Longitude | None = None
    region_code: RegionCode | None = None
    access_notes: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _check(self) -> SitePatch:
        _something(self)
        _no_nulls(self, "name", "address", "latitude", "longitude", "access_notes")
        return self


class SiteRecord(BaseModel):
    model_config = _OUT
    id: int
    external_id: str | None
    account_id: int
    name: str
    address: str
    latitude: float
    longitude: float
    region_id: int | None
    region_code: str | None = None
    access_notes: str
    version: int


# --- assets ---------------------------------------------------------------------------------


class AssetCreate(InputModel):
    external_id: ExternalId | None = None
    serial: str = Field(min_length=1, max_length=80, description="unique")
    site_id: int = Field(description="the asset belongs to this site's customer")
    product_model_code: str = Field(min_length=1, max_length=40)
    contract_number: str | None = Field(default=None, min_length=1, max_length=40)
    install_date: date | None = None
    warranty_end: date | None = None


class AssetPatch(InputModel):
    """`site_id` of another customer's site moves the asset there (refused while open tickets or
    work orders name it)."""

    external_id: ExternalId | None = None
    serial: str | None = Field(default=None, min_length=1, max_length=80)
    site_id: int | None = None
    product_model_code: str | None = Field(default=None, min_length=1, max_length=40)
    contract_number: str | None = Field(default=None, min_length=1, max_length=40)
    install_date: date | None = None
    warranty_end: date | None = None

    @model_validator(mode="after")
    def _check(self) -> AssetPatch:
        _something(self)
        _no_nulls(self, "serial", "site_id", "product_model_code")
        return self


class AssetRecord(BaseModel):
    model_config = _OUT
    id: int
    external_id: str | None
    serial: str
    account_id: int
    site_id: int
    product_model_id: int
    product_model_code: str | None = None
    contract_id: int | None
    contract_number: str | None = None
    install_date: date | None
    warranty_end: date | None
    version: int
