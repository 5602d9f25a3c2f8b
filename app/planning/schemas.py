"""Planning API schemas: plan runs, fan-out batches, engineers' routes, assignment previews."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.platform.dates import PlanDate
from app.platform.inputs import InputModel

if TYPE_CHECKING:
    from app.models import Part, Warehouse

_OUT = ConfigDict(from_attributes=True)
# The longest solve the API accepts; the broker's visibility timeout is set to outlast it (config.py).
MAX_TIME_LIMIT_S = 600


class PlanCreate(InputModel):
    """Plan one region's day. Leave the limits out for the configured defaults."""

    region_id: int
    date: PlanDate
    time_limit_s: float | None = Field(default=None, gt=0, le=MAX_TIME_LIMIT_S)
    solution_limit: int | None = Field(default=None, ge=1, le=1_000_000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    # Keep the result as a proposal (status `proposed`) for POST /plans/{id}/accept.
    propose: bool = False


class FanOutCreate(InputModel):
    """Plan every region (or those listed) for a day: one task per region, collected by a chord."""

    date: PlanDate
    region_ids: list[int] | None = Field(default=None, max_length=1000)
    time_limit_s: float | None = Field(default=None, gt=0, le=MAX_TIME_LIMIT_S)
    solution_limit: int | None = Field(default=None, ge=1, le=1_000_000)


class PlanRunRead(BaseModel):
    model_config = _OUT
    id: int
    region_id: int
    day: dt.date
    kind: str
    trigger: str
    trigger_ref: str
    status: str
    progress: int
    best_objective: int | None
    objective: int | None
    fingerprint: str | None
    attempts: int
    time_limit_s: float
    solution_limit: int | None
    seed: int
    as_of: dt.datetime | None
    summary: dict[str, Any]
    stats: dict[str, Any]
    error: str | None
    batch_id: int | None
    retry_of_id: int | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    published_at: dt.datetime | None
    propose: bool = False
    is_current: bool = False
    replanned_as: int | None = None  # accept of a stale proposal: the run planning the day again


class PlanBatchRead(BaseModel):
    model_config = _OUT
    id: int
    day: dt.date
    created_at: dt.datetime
    collected_at: dt.datetime | None
    summary: dict[str, Any]
    runs: list[PlanRunRead] = Field(default_factory=list)


# ------------------------------------------------------------------------------------- routes
class Navigation(BaseModel):
    geo: str  # geo: URI (RFC 5870), opens the phone's map app
    maps_url: str  # a browser link with directions


class CustomerSummary(BaseModel):
    account_id: int
    name: str
    site_name: str
    contact_name: str | None = None
    contact_phone: str | None = None
    access_notes: str = ""


class AssetSummary(BaseModel):
    id: int
    serial: str
    model: str
    manufacturer: str = ""


class PartLine(BaseModel):
    part_id: int
    sku: str
    name: str
    quantity: int
    # Where the part comes from: "van", or "warehouse" (picked up on the way, see pickups).
    source: str = "van"
    warehouse_id: int | None = None
    warehouse_name: str | None = None
    picked_up: bool = False
    work_order_id: int | None = None

    @classmethod
    def of(
        cls,
        part: Part,
        quantity: int,
        *,
        source: str = "van",
        warehouse: Warehouse | None = None,
        picked_up: bool = False,
        work_order_id: int | None = None,
    ) -> PartLine:
        """The one way to describe a part line from its catalogue row (routes, pickups, assignment)."""
        return cls(
            part_id=part.id,
            sku=part.sku,
            name=part.name,
            quantity=quantity,
            source=source,
            warehouse_id=warehouse.id if warehouse else None,
            warehouse_name=warehouse.name if warehouse else None,
            picked_up=picked_up,
            work_order_id=work_order_id,
        )


class StopRead(BaseModel):
    seq: int
    kind: str  # job | pickup | break
    eta: dt.datetime  # arrival
    start_at: dt.datetime
    end_at: dt.datetime
    late_s: int = 0  # the engine's lateness: from the due time, or from the day's start for a sunk one
    # The planned arrival past the SLA arrival due time, in calendar minutes, as the board's at-risk
    # reason counts it (0 once the ticket's arrival is recorded): what the engineer's badge shows.
    past_due_min: int = 0
    fixed: bool = False
    work_order_id: int | None = None
    number: str | None = None
    status: str | None = None
    priority: str | None = None
    duration_min: int | None = None
    appointment_start_at: dt.datetime | None = None
    appointment_end_at: dt.datetime | None = None
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    customer: CustomerSummary | None = None
    asset: AssetSummary | None = None
    parts: list[PartLine] = Field(default_factory=list)  # a visit: what it needs; a pickup: what to take
    warehouse_id: int | None = None
    warehouse_name: str | None = None
    navigation: Navigation | None = None


class RouteRead(BaseModel):
    engineer_id: int
    engineer_name: str
    date: dt.date
    timezone: str
    plan_run_id: int | None
    published_at: dt.datetime | None
    departure_at: dt.datetime | None = None
    return_at: dt.datetime | None = None
    travel_km: float | None = None
    stops: list[StopRead]
    pickups: list[PartLine] = Field(default_factory=list)  # every part still to fetch today


# ------------------------------------------------------------------------------ field actions
class PickupIn(InputModel):
    note: str = Field(default="", max_length=500)


class PickupRead(BaseModel):
    work_order_id: int
    moved: list[PartLine]
    already_in_van: list[PartLine] = Field(default_factory=list)


class AssignIn(InputModel):
    """Put a visit on an engineer's day; the planner picks the time and order."""

    engineer_id: int
    date: PlanDate | None = None  # default: the visit's planned day, else its appointment day, else today


class MovedVisit(BaseModel):
    work_order_id: int
    number: str | None
    appointment_start_at: dt.datetime | None = None
    appointment_end_at: dt.datetime | None = None
    old_start_at: dt.datetime | None = None
    new_start_at: dt.datetime | None = None


class DroppedVisit(BaseModel):
    work_order_id: int
    number: str | None
    reason: str


class PickupChange(PartLine):
    """A warehouse pickup for another visit of the engineer's day that the move changes: `added`,
    a pickup it now needs (the moved visit takes its van units); else one no longer made."""

    number: str | None = None
    added: bool = True


class PinRead(BaseModel):
    """A visit after Unpin: the version is its new ETag's."""

    work_order_id: int
    pinned: bool
    version: int


class AssignResult(BaseModel):
    dry_run: bool
    work_order_id: int
    engineer_id: int
    date: dt.date
    planned_start_at: dt.datetime | None
    eta: dt.datetime | None
    lateness_added_s: int
    travel_added_m: int
    travel_added_s: int
    appointments_moved: list[MovedVisit]
    visits_dropped: list[DroppedVisit]  # no longer fit that engineer's day
    # The moved visit's own parts (`work_order_id` is it), from the van or picked up at a warehouse.
    parts_to_pick_up: list[PartLine]
    # Pickups of the engineer's other visits that change because of the move, each naming its visit.
    other_pickups_changed: list[PickupChange] = []
    plan_run_id: int | None = None  # the manual run that published it (not on a dry run)
    # The engineer the visit is with now and how their route changes without it (route after
    # minus route before: usually negative); None when it is with nobody.
    from_engineer_id: int | None = None
    from_travel_added_m: int | None = None
    from_travel_added_s: int | None = None


class AlternativeRead(BaseModel):
    """Another engineer for a planned visit: what moving it there would cost, or why they cannot
    take it at all (lacks the skill, off shift or absent at that time, no slot that fits its
    window) — then there is no cost, only the reason in `note`."""

    engineer_id: int
    engineer_name: str = ""
    on_call: bool = False  # the engineer's on-call cover, not their shift
    extra_cost: int | None = None  # objective increase if the visit moved there; None: cannot
    feasible: bool
    note: str = ""  # "could take it", or why not

    @model_validator(mode="after")
    def _cost_iff_feasible(self) -> AlternativeRead:
        if self.feasible != (self.extra_cost is not None):
            raise ValueError(
                "a feasible alternative has an extra cost; one that cannot take the visit has none"
            )
        return self


class CandidateRead(BaseModel):
    """Why one engineer of the region does not take a visit left out: the binding constraint."""

    engineer_id: int
    engineer_name: str = ""
    on_call: bool = False  # the engineer's on-call cover, not their shift
    constraint: str  # skill, pinned, on_call, off_shift, capacity, part, window, day_full
    note: str


class ExplanationRead(BaseModel):
    work_order_id: int
    plan_run_id: int | None
    engineer_id: int | None
    status: str
    reason: str
    unassigned_reason: str | None = None
    skills: list[str] = Field(default_factory=list)
    parts_from_van: dict[str, int] = Field(default_factory=dict)
    parts_picked_up: dict[str, str] = Field(default_factory=dict)  # sku -> warehouse name
    travel_added_m: int = 0
    slack_s: int = 0
    alternatives: list[AlternativeRead] = Field(default_factory=list)
    candidates: list[CandidateRead] = Field(default_factory=list)  # visits left out: per engineer
