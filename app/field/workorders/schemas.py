"""Work-order API schemas: input forbids unknown fields and naive datetimes, output reads ORM rows."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from app.desk.tickets.schemas import AtRiskRead
from app.field.engineers.schemas import Latitude, Longitude, Skill, no_nulls
from app.models import Priority, WorkOrderStatus
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel

_OUT = ConfigDict(from_attributes=True)


class WindowIn(InputModel):
    starts_at: AwareDatetime
    ends_at: AwareDatetime


class WindowRead(BaseModel):
    model_config = _OUT
    starts_at: datetime
    ends_at: datetime


class PartQty(InputModel):
    part_id: int
    quantity: int = Field(default=1, ge=1, le=10000)


class PartQtyRead(BaseModel):
    model_config = _OUT
    part_id: int
    quantity: int


class WorkOrderCreate(InputModel):
    """A visit for a ticket. Omit required_skills to take the asset's product-model skill."""

    ticket_id: int
    required_skills: list[Skill] | None = Field(default=None, max_length=20)
    duration_min: int = Field(default=60, ge=5, le=24 * 60)
    required_parts: list[PartQty] = Field(default_factory=list, max_length=100)
    windows: list[WindowIn] = Field(default_factory=list, max_length=20)
    appointment_start_at: AwareDatetime | None = None
    appointment_end_at: AwareDatetime | None = None
    notes: str = Field(default="", max_length=5000)


class WorkOrderUpdate(InputModel):
    """Only the fields sent change; lists replace the stored list; the appointment may be nulled."""

    required_skills: list[Skill] | None = Field(default=None, max_length=20)
    duration_min: int | None = Field(default=None, ge=5, le=24 * 60)
    required_parts: list[PartQty] | None = Field(default=None, max_length=100)
    windows: list[WindowIn] | None = Field(default=None, max_length=20)
    appointment_start_at: AwareDatetime | None = None
    appointment_end_at: AwareDatetime | None = None
    eta_at: AwareDatetime | None = None
    notes: str | None = Field(default=None, max_length=5000)

    @model_validator(mode="after")
    def _required_not_null(self) -> WorkOrderUpdate:
        no_nulls(self, ("required_skills", "duration_min", "required_parts", "windows", "notes"))
        return self


class TransitionIn(InputModel):
    to: WorkOrderStatus
    reason: str = Field(default="", max_length=1000)
    eta: AwareDatetime | None = None  # with → en_route


class ScheduleIn(InputModel):
    engineer_id: int
    planned_start: AwareDatetime
    eta: AwareDatetime | None = None


class CheckInIn(InputModel):
    """Optional position fix taken at arrival."""

    latitude: Latitude | None = None
    longitude: Longitude | None = None

    @model_validator(mode="after")
    def _both(self) -> CheckInIn:
        if (self.latitude is None) != (self.longitude is None):
            missing = "latitude" if self.latitude is None else "longitude"
            refuse_fields(self, {missing: "give both latitude and longitude, or neither"})
        return self


class PartUsedIn(InputModel):
    part_id: int
    quantity: int = Field(ge=1, le=10000)
    location_id: int | None = None  # default: the assigned engineer's van


class ReportIn(InputModel):
    """`fixed_first_time`: the problem was fixed on this visit (false → needs_follow_up)."""

    work_done: str = Field(min_length=1, max_length=20000)
    parts_used: list[PartUsedIn] = Field(default_factory=list, max_length=100)
    fixed_first_time: bool


class PartUsageRead(BaseModel):
    model_config = _OUT
    part_id: int
    location_id: int
    quantity: int
    at: datetime


class WorkOrderRead(AtRiskRead):
    model_config = ConfigDict(from_attributes=True, populate_by_name=True)
    id: int
    number: str
    ticket_id: int
    customer_id: int = Field(validation_alias=AliasChoices("customer_id", "account_id"))
    site_id: int
    asset_id: int | None
    region_id: int
    priority: Priority
    status: WorkOrderStatus
    required_skills: list[str]
    duration_min: int
    required_parts: list[PartQtyRead] = []
    windows: list[WindowRead] = []
    appointment_start_at: datetime | None
    appointment_end_at: datetime | None
    sla_deadline_at: datetime | None
    engineer_id: int | None
    planned_start_at: datetime | None
    eta_at: datetime | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    report_work_done: str | None
    # True only when fixed on this visit AND no earlier visit of the ticket reached the site.
    fixed_first_time: bool | None
    parts_used: list[PartUsageRead] = []
    notes: str
    created_at: datetime
    updated_at: datetime
    version: int
    allowed_transitions: list[WorkOrderStatus] = []


class ScheduleWarning(BaseModel):
    """Something the dispatcher should know about a schedule that was still saved: `overlap` names
    the engineer's other visit (id, number, its span); `outside_shift`/`absence` the time the job
    runs into (start..end of that stretch)."""

    code: Literal["overlap", "outside_shift", "absence"]
    detail: str
    work_order_id: int | None = None
    number: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class ScheduleRead(WorkOrderRead):
    """The scheduled visit, with what the schedule collides with (it is saved all the same)."""

    warnings: list[ScheduleWarning] = []
