"""Webhook API schemas: the secret appears only in the create/rotate answers, never in reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from app.models import DeliveryStatus, WebhookSubscription
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel

_OUT = ConfigDict(from_attributes=True)


class SubscriptionCreate(InputModel):
    url: AnyHttpUrl = Field(description="http(s) URL that receives signed POSTs")
    events: list[str] = Field(
        default_factory=list, max_length=50, description="event names; empty = every event"
    )
    description: str = Field(default="", max_length=200)
    active: bool = True

    @model_validator(mode="after")
    def _url_fits(self) -> SubscriptionCreate:
        if len(str(self.url)) > 500:
            refuse_fields(self, {"url": "at most 500 characters"})
        return self


class SubscriptionUpdate(InputModel):
    """Only the fields sent are changed; active=false pauses delivery."""

    url: AnyHttpUrl | None = None
    events: list[str] | None = Field(default=None, max_length=50)
    description: str | None = Field(default=None, max_length=200)
    active: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> SubscriptionUpdate:
        if not self.model_fields_set:  # about the whole body: no field to name
            raise ValueError("send at least one field to change")
        fields = ("url", "events", "description", "active")
        problems = {
            n: "cannot be null" for n in fields if n in self.model_fields_set and getattr(self, n) is None
        }
        if self.url is not None and len(str(self.url)) > 500:
            problems["url"] = "at most 500 characters"
        refuse_fields(self, problems)
        return self


class SubscriptionRead(BaseModel):
    id: int
    url: str
    events: list[str] = Field(description="event names; empty = every event")
    description: str
    active: bool
    created_at: datetime
    secret_hint: str = Field(description="the secret's last characters, to tell secrets apart")

    @classmethod
    def of(cls, sub: WebhookSubscription) -> SubscriptionRead:
        return cls(
            id=sub.id,
            url=sub.url,
            events=list(sub.events),
            description=sub.description,
            active=sub.active,
            created_at=sub.created_at,
            secret_hint="whsec_…" + sub.secret[-4:],
        )


class SubscriptionWithSecret(SubscriptionRead):
    """Answer to create and rotate-secret: the only time the secret is shown."""

    secret: str | None = Field(
        description="whsec_… signing secret; store it now, it is not shown again. null only in a "
        "replayed create (Idempotency-Key) whose secret is no longer valid: see secret_withheld"
    )
    secret_withheld: Literal["rotated", "deleted"] | None = Field(
        default=None,
        description="set in a replayed create when the secret was rotated or the subscription "
        "deleted since: the old secret is void, and the current one is shown only by rotate-secret",
    )

    @classmethod
    def of(cls, sub: WebhookSubscription) -> SubscriptionWithSecret:
        return cls(**SubscriptionRead.of(sub).model_dump(), secret=sub.secret)


class DeliveryRead(BaseModel):
    model_config = _OUT
    id: int
    message_id: str
    subscription_id: int
    event: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @model_validator(mode="after")
    def _no_next_when_final(self) -> DeliveryRead:
        if self.status != DeliveryStatus.pending:
            self.next_attempt_at = None  # only meaningful while a retry is scheduled
        return self


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any]
