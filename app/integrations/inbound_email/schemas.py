"""Bodies and answers of the unmatched-mail API (unmatched_api.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.platform.inputs import InputModel


class UnmatchedRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    message_id: str
    from_addr: str
    from_name: str
    subject: str
    text: str = Field(validation_alias="body")
    received_at: datetime
    suggested_account_id: int | None  # the one customer whose contacts share the sender's domain
    suggested_account_name: str | None = None
    status: str  # held | attached | discarded
    ticket_id: int | None  # attached: the ticket opened from it
    contact_id: int | None  # attached: the sender's contact
    version: int


class UnmatchedList(BaseModel):
    items: list[UnmatchedRecord]
    held: int  # how many are waiting in all (the list shows the oldest first, at most 200)


class AttachBody(InputModel):
    account_id: int = Field(description="the customer the sender belongs to")
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="the new contact's name; none: the sender's display name, else the address",
    )


class AttachResult(BaseModel):
    ticket_id: int
    number: str
    contact_id: int
    unmatched: UnmatchedRecord
