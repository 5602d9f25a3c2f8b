"""Ticket desk API schemas: input forbids unknown fields, output reads ORM rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, computed_field, model_validator

from app.models import Channel, Priority, TicketStatus
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel


class TicketCreate(InputModel):
    customer_id: int
    contact_id: int | None = None
    asset_id: int | None = None
    subject: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20000)
    priority: Priority
    channel: Channel
    category: str = Field(default="", max_length=60)


class TicketUpdate(InputModel):
    """Only the fields sent are changed; contact, asset and assignee may be set to null."""

    subject: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20000)
    category: str | None = Field(default=None, max_length=60)
    priority: Priority | None = None
    contact_id: int | None = None
    asset_id: int | None = None
    assignee_id: int | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> TicketUpdate:
        required = ("subject", "description", "category", "priority")
        sent_null = [n for n in required if n in self.model_fields_set and getattr(self, n) is None]
        refuse_fields(self, dict.fromkeys(sent_null, "cannot be null"))
        if not self.model_fields_set:  # about the whole body: no field to name
            raise ValueError("send at least one field to change")
        return self


class TransitionIn(InputModel):
    to: TicketStatus
    reason: str = Field(default="", max_length=1000)


class MessageIn(InputModel):
    """A reply or note. (Named `text`, not `body`: the error renderer drops "body" from paths.)"""

    text: str = Field(min_length=1, max_length=20000)


class CallIn(InputModel):
    """A phone call with the customer, logged by the agent (a human contact: first response)."""

    direction: Literal["inbound", "outbound"]
    summary: str = Field(min_length=1, max_length=5000)
    duration_min: int = Field(ge=0, le=600)


class AtRiskRead(BaseModel):
    """The at-risk mark of a ticket or a work order: the published plan cannot meet the SLA
    arrival due time (docs/planning.md "At risk")."""

    at_risk_since: datetime | None = None
    at_risk_reason: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def at_risk(self) -> bool:
        return self.at_risk_since is not None


class TicketRead(AtRiskRead):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    id: int
    number: str
    customer_id: int = Field(validation_alias=AliasChoices("customer_id", "account_id"))
    contact_id: int | None
    asset_id: int | None
    site_id: int | None
    channel: Channel
    subject: str
    description: str
    category: str
    priority: Priority
    status: TicketStatus
    assignee_id: int | None
    sla_tier: str
    sla_calendar_id: int | None
    sla_contract_id: int | None
    opened_at: datetime
    first_response_at: datetime | None
    first_response_via: str | None = None  # reply | call | appointment | resolution
    first_contact_channel: str | None = None  # e.g. phone for a logged call
    arrived_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_due_at: datetime | None
    arrival_due_at: datetime | None
    resolution_due_at: datetime | None
    sla_paused: bool
    sla_breached: bool
    updated_at: datetime
    version: int
    allowed_transitions: list[TicketStatus] = []
    # The asset is not known but the customer has assets: the agent should pick one (its contract
    # decides the SLA; until then the account's best valid contract applies).
    needs_asset: bool = False
    # The first SLA target still outstanding (first_response, arrival, resolution): the queue's order.
    sla_next_metric: str | None = None
    sla_next_due_at: datetime | None = None


class TimelineItem(BaseModel):
    id: int
    source: str  # ticket | sla
    at: datetime
    kind: str
    metric: str | None = None
    actor_id: int | None = None
    channel: str | None = None
    body: str = ""
    data: dict[str, Any] = {}
    message_id: str | None = None


class Timeline(BaseModel):
    items: list[TimelineItem]


class TicketEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    ticket_id: int
    at: datetime
    kind: str
    actor_id: int | None
    channel: str | None
    body: str
    data: dict[str, Any]
    message_id: str | None


class SlaMetric(BaseModel):
    metric: str
    target_minutes: int
    due_at: datetime | None
    achieved_at: datetime | None
    state: str  # running, paused, met, breached, stopped, not_applicable
    breached: bool
    elapsed_seconds: int
    remaining_seconds: int


class SlaRead(BaseModel):
    tier: str
    priority: str | None
    calendar_id: int | None
    contract_id: int | None
    paused: bool
    breached: bool
    paused_seconds: int
    paused_covered_seconds: int
    metrics: list[SlaMetric]


class InboundResult(BaseModel):
    """The relay's answer; an ignored automatic mail has no ticket, only why it was ignored."""

    ticket_id: int | None = None
    number: str | None = None
    event_id: int | None = None
    action: str  # created | threaded | duplicate | ignored | held
    reason: str | None = None  # ignored: "auto-reply" or "held-limit"
    unmatched_id: int | None = None  # held: the unmatched mail kept for a desk user
    marker: str | None = None  # ignored: what made it automatic, e.g. "Auto-Submitted: auto-replied"
