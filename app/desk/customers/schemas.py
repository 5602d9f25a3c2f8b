"""Customer search and the 360° view (output only: these endpoints take no JSON)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.platform.errors import refuse_fields
from app.platform.i18n import LANGUAGES
from app.platform.i18n import check as check_language
from app.platform.inputs import InputModel

_OUT = ConfigDict(from_attributes=True)

MatchedField = Literal["phone", "mobile", "email", "serial", "account_name", "contact_name", "external_id"]


class SearchHitRead(BaseModel):
    model_config = _OUT
    account_id: int
    account_name: str
    external_id: str | None
    tier: str
    region: str | None
    matched_field: MatchedField
    # "similar": no exact match, a near spelling of the typed name (ranked after every exact hit)
    match: Literal["exact", "prefix", "suffix", "substring", "similar"]
    value: str
    contact_id: int | None
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    asset_id: int | None
    site_name: str | None


class SearchResultRead(BaseModel):
    model_config = _OUT
    query: str
    items: list[SearchHitRead]
    total: int = Field(description="distinct matches found; at least this many when `truncated`")
    more: bool = Field(description="more matches than `items` shows: refine the query or raise `limit`")
    truncated: bool = Field(description="a lookup reached its cap: there are at least `total` matches")


class AccountSummary(BaseModel):
    id: int
    external_id: str | None
    name: str
    tier: str
    segment: str
    region: str | None
    region_name: str | None
    arr: Decimal | None
    renewal_date: date | None
    owner_user_id: int | None  # follows up unhappy survey answers; None: the recovery queue
    language: str  # what the customer is written to in: app.platform.i18n's codes ("en", "de")
    version: int


class AccountSettings(InputModel):
    """The account's owner and language, as both account PATCHes take them (`PATCH /customers/{id}`
    and `PATCH /accounts/{id}`, records_schemas.AccountPatch); a field left out stays as it is."""

    owner_user_id: int | None = Field(
        default=None, description="follows up unhappy survey answers; null: the recovery queue"
    )
    language: str | None = Field(
        default=None,
        description=f"what the customer is written to in (notices, surveys): one of {', '.join(LANGUAGES)}",
        json_schema_extra={"enum": list(LANGUAGES)},
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        # a field validator, so the refusal names `language` (docs/customers.md)
        if value is None:
            raise ValueError(f"cannot be null; use one of {', '.join(LANGUAGES)}")
        return check_language(value)


class AccountUpdate(AccountSettings):
    """What a manager changes on an account; a field left out stays as it is."""

    @model_validator(mode="after")
    def _something(self) -> AccountUpdate:
        if not self.model_fields_set:
            refuse_fields(self, {"body": "send owner_user_id, language or both"})
        return self


class AccountRead(BaseModel):
    """The account's owner and language after a PATCH."""

    owner_user_id: int | None
    language: str


class HealthReason(BaseModel):
    code: str
    text: str
    points: int  # negative: taken off 100


class Health(BaseModel):
    """surveys.health_score (docs/kpis.md): status is the badge colour of the band."""

    status: Literal["green", "amber", "red"]
    score: int
    band: Literal["healthy", "watch", "at_risk"]
    open_p1: int
    open_p2: int
    sla_breaches_90d: int
    expiring_contracts: list[str]
    reasons: list[HealthReason]  # largest deduction first
    notes: list[str]  # dates to act on (contract end, renewal); not part of the score


class ContactSummary(BaseModel):
    id: int
    external_id: str | None
    name: str
    email: str | None
    phone: str | None
    mobile: str | None
    survey_opt_out: bool  # unsubscribed from survey e-mails


class SiteSummary(BaseModel):
    id: int
    external_id: str | None
    name: str
    address: str
    latitude: float
    longitude: float
    access_notes: str


class ContractSummary(BaseModel):
    id: int
    number: str
    external_id: str | None
    tier: str
    starts_on: date
    ends_on: date
    status: Literal["active", "expired", "upcoming"]
    calendar_id: int
    calendar_name: str


class AssetSummary(BaseModel):
    id: int
    external_id: str | None
    serial: str
    model_code: str
    model_name: str
    site_id: int
    site_name: str | None
    install_date: date | None
    warranty_end: date | None
    contract_id: int | None
    contract_number: str | None
    entitlement: Literal["in_warranty", "under_contract", "billable"]


class TicketSummary(BaseModel):
    id: int
    number: str | None
    subject: str
    status: str
    priority: str
    channel: str
    opened_at: datetime
    resolution_due_at: datetime | None
    sla_breached: bool
    asset_id: int | None
    site_id: int | None


class VisitSummary(BaseModel):
    id: int
    number: str | None
    ticket_id: int
    status: str
    priority: str
    engineer_id: int | None
    engineer_name: str | None
    planned_start_at: datetime | None
    appointment_start_at: datetime | None
    checked_out_at: datetime | None
    site_id: int
    asset_id: int | None


class SatisfactionAnswer(BaseModel):
    """A survey answer (app.feedback), newest first."""

    id: int
    survey_id: int
    ticket_id: int
    work_order_id: int | None
    answered_at: datetime
    csat: int | None
    nps: int | None
    solved: bool | None
    reasons: list[str]
    comment: str = ""
    is_detractor: bool


class RecoverySummary(BaseModel):
    """A detractor's follow-up ticket; queue "recovery" when the account has no owner."""

    id: int
    ticket_id: int
    number: str | None
    status: str
    queue: str
    owner_user_id: int | None
    opened_at: datetime
    closed_at: datetime | None
    outcome: str | None


class Customer360(BaseModel):
    account: AccountSummary
    health: Health
    contacts: list[ContactSummary]
    sites: list[SiteSummary]
    contracts: list[ContractSummary]
    assets: list[AssetSummary]
    open_tickets: list[TicketSummary]
    recent_tickets: list[TicketSummary]
    upcoming_visits: list[VisitSummary]
    recent_visits: list[VisitSummary]
    satisfaction: list[SatisfactionAnswer]
    recoveries: list[RecoverySummary]
