"""Engineers, shifts, absences, positions; and field types (skills, coordinates) that work orders share."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.field.engineers import day_part
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel, LocalTime

_OUT = ConfigDict(from_attributes=True)

# Skill codes are matched as quoted JSON strings in filters, so quotes and backslashes are refused.
Skill = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r'^[^"\\]+$')
]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


def no_nulls(model: BaseModel, names: tuple[str, ...]) -> None:
    """For an update's model validator: the required fields sent as null, each named."""
    sent_null = [n for n in names if n in model.model_fields_set and getattr(model, n) is None]
    refuse_fields(model, dict.fromkeys(sent_null, "cannot be null"))
    if not model.model_fields_set:  # about the whole body: no field to name
        raise ValueError("send at least one field to change")


class ShiftIn(InputModel):
    """A weekly working day (0=Monday) in the engineer's region time zone, with an optional break."""

    weekday: int = Field(ge=0, le=6)
    starts: LocalTime
    ends: LocalTime
    break_starts: LocalTime | None = None
    break_ends: LocalTime | None = None


class ShiftRead(ShiftIn):
    model_config = _OUT


class EngineerCreate(InputModel):
    name: str = Field(min_length=1, max_length=200)
    user_id: int | None = None
    region_id: int
    skills: list[Skill] = Field(default_factory=list, max_length=50)
    home_latitude: Latitude
    home_longitude: Longitude
    active: bool = True
    shifts: list[ShiftIn] = Field(default_factory=list, max_length=7)


class EngineerUpdate(InputModel):
    """Only the fields sent change; `shifts` replaces the whole weekly pattern."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    user_id: int | None = None
    region_id: int | None = None
    skills: list[Skill] | None = Field(default=None, max_length=50)
    home_latitude: Latitude | None = None
    home_longitude: Longitude | None = None
    active: bool | None = None
    shifts: list[ShiftIn] | None = Field(default=None, max_length=7)

    @model_validator(mode="after")
    def _required_not_null(self) -> EngineerUpdate:
        no_nulls(self, ("name", "region_id", "skills", "home_latitude", "home_longitude", "active", "shifts"))
        return self


class EngineerRead(BaseModel):
    model_config = _OUT
    id: int
    name: str
    user_id: int | None
    region_id: int
    skills: list[str]
    home_latitude: float
    home_longitude: float
    current_latitude: float | None
    current_longitude: float | None
    position_at: datetime | None
    active: bool
    version: int
    van_location_id: int | None = None
    shifts: list[ShiftRead] = []


class DayShiftRead(BaseModel):
    """One day's working time as UTC instants (null when not working)."""

    model_config = _OUT
    engineer_id: int
    day: date
    timezone: str
    working: bool
    absent: bool
    absence_reason: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    break_starts_at: datetime | None
    break_ends_at: datetime | None
    # absent between two times, working before and after (training 13:00–15:00)
    gap_starts_at: datetime | None = None
    gap_ends_at: datetime | None = None


class AbsenceIn(InputModel):
    """Both times empty: the whole day; from only: from then on (sent home sick at 13:00); until
    only: until then (at the dentist until 10:30); both: between them (training 13:00–15:00)."""

    day: date
    reason: str = Field(default="leave", min_length=1, max_length=40)
    from_time: LocalTime | None = None  # the region's clock
    until_time: LocalTime | None = None

    @field_validator("until_time")
    @classmethod
    def _ends_after_it_starts(cls, value: time | None, info: ValidationInfo) -> time | None:
        # a field validator, so a refusal names `until_time` (a model validator names the body)
        problem = day_part.order_problem(info.data.get("from_time"), value)
        if problem:
            raise ValueError(problem)
        return value


class AbsenceRead(BaseModel):
    model_config = _OUT
    id: int
    engineer_id: int
    day: date
    reason: str
    from_time: LocalTime | None = None
    until_time: LocalTime | None = None


class OnCallIn(InputModel):
    """A stretch of on-call cover, e.g. Friday 17:00 to Monday 08:00 (at most 14 days)."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=200)


class OnCallRead(BaseModel):
    model_config = _OUT
    id: int
    engineer_id: int
    starts_at: datetime
    ends_at: datetime
    note: str


class PositionIn(InputModel):
    latitude: Latitude
    longitude: Longitude
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _a_real_fix(self) -> PositionIn:
        # 0, 0 lies in the Gulf of Guinea: it is what a device without a GPS fix sends. Stored, it
        # became the engineer's start for the next re-plan, thousands of km from every visit.
        if self.latitude == 0 and self.longitude == 0:
            refuse_fields(self, {"latitude": "0, 0 is no position (the device had no GPS fix): send none"})
        return self


class PositionRead(BaseModel):
    engineer_id: int
    latitude: float | None
    longitude: float | None
    position_at: datetime | None
    applied: bool  # false: an older fix than the one stored, ignored
