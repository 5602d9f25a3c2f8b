"""The CSV import's report (output only: the import takes a CSV body, not JSON)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

_OUT = ConfigDict(from_attributes=True)


class ImportErrorRead(BaseModel):
    model_config = _OUT
    line: int
    field: str
    message: str


class ImportReportRead(BaseModel):
    model_config = _OUT
    entity: str
    rows: int
    created: int
    updated: int
    unchanged: int
    failed: int
    errors: list[ImportErrorRead]
    errors_omitted: int = 0  # row errors past the first 1000 (counted in `failed`, not listed)
