"""Parts, warehouses, stock levels, adjustments and transfers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.field.engineers.schemas import Latitude, Longitude, no_nulls
from app.platform.errors import refuse_fields
from app.platform.inputs import InputModel, LocalTime

_OUT = ConfigDict(from_attributes=True)


CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    """A price as it is stored (NUMERIC(10,2)) and read back: "1E+2" → 100.00; -0.00 → 0.00."""
    return value.quantize(CENT) + Decimal("0.00")  # adding +0 turns -0.00 into 0.00


# A part's price: 0.00 (free) up to 99999999.99; a negative price (-0.01) is refused, -0.00 is 0.00.
Price = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2), AfterValidator(_cents)]


class PartCreate(InputModel):
    sku: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=200)
    unit_cost: Price = Decimal("0.00")


class PartUpdate(InputModel):
    sku: str | None = Field(default=None, min_length=1, max_length=40)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    unit_cost: Price | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> PartUpdate:
        no_nulls(self, ("sku", "name", "unit_cost"))
        return self


class PartRead(BaseModel):
    model_config = _OUT
    id: int
    sku: str
    name: str
    unit_cost: Decimal
    version: int


class WarehouseCreate(InputModel):
    name: str = Field(min_length=1, max_length=120)
    region_id: int
    address: str = Field(default="", max_length=300)
    latitude: Latitude
    longitude: Longitude
    opens: LocalTime
    closes: LocalTime
    pickup_min: int = Field(default=10, ge=0, le=240)


class WarehouseRead(BaseModel):
    model_config = _OUT
    id: int
    name: str
    region_id: int
    address: str
    latitude: float
    longitude: float
    opens: LocalTime
    closes: LocalTime
    pickup_min: int
    location_id: int | None = None


class StockRead(BaseModel):
    id: int
    location_id: int
    location_kind: str
    warehouse_id: int | None
    engineer_id: int | None
    part_id: int
    quantity: int
    reserved: int


class AdjustmentIn(InputModel):
    """receive: goods in (quantity > 0). adjust: a counted correction (signed delta, never below 0)."""

    kind: Literal["receive", "adjust"]
    location_id: int
    part_id: int
    quantity: int = Field(ge=-100000, le=100000)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _sign(self) -> AdjustmentIn:
        if self.quantity == 0:
            refuse_fields(self, {"quantity": "must not be 0"})
        if self.kind == "receive" and self.quantity < 0:
            refuse_fields(self, {"quantity": "must be positive: a receipt adds stock"})
        return self


class ReservationCutRead(BaseModel):
    """A visit's reservation that a count correction cut: `held_after` 0 means released."""

    reservation_id: int
    work_order_id: int
    number: str
    part_id: int
    location_id: int
    held_before: int
    held_after: int


class AdjustmentRead(BaseModel):
    kind: str
    location_id: int
    part_id: int
    delta: int
    quantity: int
    reserved: int
    reason: str
    at: datetime
    released: list[ReservationCutRead] = []


class TransferLine(InputModel):
    part_id: int
    quantity: int = Field(ge=1, le=100000)


class TransferIn(InputModel):
    from_location_id: int
    to_location_id: int
    lines: list[TransferLine] = Field(min_length=1, max_length=200)
    reason: str = Field(default="pickup", min_length=1, max_length=500)


class TransferLineRead(BaseModel):
    part_id: int
    quantity: int
    from_quantity: int
    to_quantity: int


class TransferRead(BaseModel):
    from_location_id: int
    to_location_id: int
    lines: list[TransferLineRead]
    reason: str
    at: datetime
