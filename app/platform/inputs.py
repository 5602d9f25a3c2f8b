"""One guard for hostile numbers, bytes and dates in every input, instead of per-route patches.

The database stores ids and counts as 32-bit integers (PostgreSQL int4; SQLite overflows at 2^63),
text cannot hold a NUL byte on PostgreSQL, date arithmetic overflows near year 1 and 9999, and a
time of day with a UTC offset cannot be compared with one without (opening hours, shifts). So:

- request bodies: every input schema derives from `InputModel`, whose validators refuse a
  `true`/`false` where an integer is wanted (`"customer_id": true` is not customer 1), an integer
  outside int4, a NUL byte in any text, a date outside `DATE_MIN`..`DATE_MAX`, a time of
  day with a UTC offset (times of day are wall-clock times in the region's zone: `LocalTime`),
  a number where a date-time, date or time of day is wanted (pydantic's lax mode reads
  `-1` or `"1700000000"` as seconds since 1970, and `3600` as 01:00 UTC): these are ISO 8601
  strings only ("2026-12-10T08:00:00Z"; a date-time without a UTC offset stays refused where the
  field is an `AwareDatetime`, as all API date-times are);
  a date-time where a date is wanted (lax mode reads "2026-12-10T00:00:00Z" as that day); and a
  string where a number or a boolean is wanted (`"duration_min": "90"`: lax mode would read it).
  A JSON number with a zero fraction (`90.0`) stays an integer: JSON has one number type and some
  serialisers write whole numbers that way; `90.5` is refused by pydantic itself;
- path, query and form parameters: `guard_params`, a dependency of the API and page routers,
  applies the same rules to the values of each route's declared parameters before any endpoint
  (or database lookup) runs (a date parameter is `2026-12-10`, never a date-time);
- a date-time without a UTC offset ("2026-12-10T08:00", or a date alone where a date-time is
  wanted), in a body or a parameter declared `datetime` or `AwareDatetime`: 422 "needs a UTC
  offset, e.g. 2026-12-10T00:00:00Z" (`NEEDS_OFFSET`). The API names instants; guessing a zone
  would shift a filter by hours without a word (it reached `UTCDateTime`'s check as a 500);
- cursors: `app.platform.http.decode_cursor` keeps the id it decodes within int4.

Every refusal is a 422 whose `errors` name the field (problem+json in the API, a readable page
on the pages).
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    NaiveDatetime,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from app.platform.text import is_blank

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL int4
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2199, 12, 31)

# A time of day in the region's time zone ("07:30" or "07:30:00"), as shifts and opening hours are
# stored. The schema says so with a pattern: JSON Schema's "time" format (RFC 3339) requires a UTC
# offset, which these never carry and `problem_with` refuses.
LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
LocalTime = Annotated[
    time, WithJsonSchema({"type": "string", "pattern": LOCAL_TIME_PATTERN, "examples": ["07:30:00"]})
]


NEEDS_OFFSET = "needs a UTC offset, e.g. 2026-12-10T00:00:00Z"
# What FastAPI makes of a date-time parameter: the guard reads it the same way.
_DATETIME = TypeAdapter(datetime)

# A number, or a string that is only a number: never a date, a time of day or a date-time here.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


# A date is a calendar day, "2026-12-10": pydantic's lax mode also reads a date-time at midnight
# ("2026-12-10T00:00:00Z") as that day, silently dropping the zone the client meant.
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIMES = {datetime, AwareDatetime, NaiveDatetime}
DATE_ONLY_MESSAGE = "must be an ISO 8601 date (e.g. 2026-12-10), without a time"


def _temporal_kind(kind: set[type]) -> str | None:
    """What a field of these base types wants when it is a date-time, a date or a time of day."""
    if AwareDatetime in kind:
        return "an ISO 8601 date-time with a time zone (e.g. 2026-12-10T08:00:00Z)"
    if datetime in kind or NaiveDatetime in kind:
        return "an ISO 8601 date-time (e.g. 2026-12-10T08:00:00Z)"
    if date in kind:
        return "an ISO 8601 date (e.g. 2026-12-10)"
    if time in kind:
        return "a time of day (e.g. 07:30)"
    return None


def _is_number(value: Any) -> bool:
    if isinstance(value, int | float | Decimal):
        return True
    return isinstance(value, str) and _NUMBER.fullmatch(value.strip()) is not None


def problem_with(value: Any) -> str | None:
    """What is wrong with a (validated) input value, looking inside lists and dicts, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            return f"must be between {INT_MIN} and {INT_MAX}"
    elif isinstance(value, str):
        if "\x00" in value:
            return "must not contain a NUL character"
    elif isinstance(value, datetime | date):
        day = value.date() if isinstance(value, datetime) else value
        if not DATE_MIN <= day <= DATE_MAX:
            return f"must be a date between {DATE_MIN} and {DATE_MAX}"
        if isinstance(value, datetime) and value.tzinfo is None:
            return NEEDS_OFFSET
    elif isinstance(value, time):
        if value.tzinfo is not None:
            return "must be a local time of day without a UTC offset"
    elif isinstance(value, Mapping):
        return next(filter(None, (problem_with(v) or problem_with(k) for k, v in value.items())), None)
    elif isinstance(value, list | tuple | set | frozenset):
        return next(filter(None, (problem_with(v) for v in value)), None)
    return None


def _base_types(annotation: Any) -> set[type]:
    """int | None → {int, NoneType}; Annotated and list[...] are looked through."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_types(get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        return set().union(*(_base_types(a) for a in get_args(annotation)))
    return {annotation} if isinstance(annotation, type) else set()


def _contains_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    return isinstance(value, list | tuple) and any(isinstance(v, bool) for v in value)


class InputModel(BaseModel):
    """Base of every request body schema (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _invisible_text_is_blank(cls, value: Any) -> Any:
        # Stripping removes whitespace only: "  \u200b " stayed text and passed `min_length=1`
        # (a service report of zero-width spaces closed the visit). No visible character: "",
        # as plain spaces become (app/platform/text.py).
        return "" if isinstance(value, str) and is_blank(value) else value

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_for_int(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        wanted = _base_types(field.annotation) if field else set()
        if int in wanted and bool not in wanted and _contains_bool(value):
            raise ValueError("must be an integer, not true or false")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_number_for_a_time(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        wanted = _temporal_kind(_base_types(field.annotation)) if field else None
        if wanted is None:
            return value
        values = value if isinstance(value, list | tuple) else [value]
        if any(_is_number(v) for v in values):
            raise ValueError(f"must be {wanted}, not a number")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_text_for_a_number(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        kind = _base_types(field.annotation) if field else set()
        if str in kind or not kind & {int, float, bool}:
            return value
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) for v in values):
            wanted = "true or false" if kind & {int, float} == set() else "a number"
            raise ValueError(f"must be {wanted}, not a string")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _a_date_is_only_a_date(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        kind = _base_types(field.annotation) if field else set()
        if date not in kind or kind & _DATETIMES:
            return value
        values = value if isinstance(value, list | tuple) else [value]
        # a number is `_no_number_for_a_time`'s to refuse, with its own message
        if any(
            isinstance(v, str) and not _is_number(v) and not _DATE_ONLY.fullmatch(v.strip()) for v in values
        ):
            raise ValueError(DATE_ONLY_MESSAGE)
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _in_storable_range(cls, value: Any) -> Any:
        reason = problem_with(value)
        if reason:
            raise ValueError(reason)
        return value


def _check_param(kind: set[type], raw: str) -> str | None:
    if "\x00" in raw:
        return "must not contain a NUL character"
    if int in kind and bool not in kind:
        try:
            return problem_with(int(raw))
        except ValueError:
            return None  # not a number at all: FastAPI's own validation says so
    wanted = _temporal_kind(kind)
    if wanted and _is_number(raw):
        return f"must be {wanted}, not a number"
    if date in kind and not kind & _DATETIMES and raw.strip() and not _DATE_ONLY.fullmatch(raw.strip()):
        return DATE_ONLY_MESSAGE
    if datetime in kind or AwareDatetime in kind:
        try:
            instant = _DATETIME.validate_python(raw)
        except ValidationError:
            return None  # not a date-time at all: FastAPI's own validation says so
        if instant.tzinfo is None and _DATE_ONLY.fullmatch(raw.strip()):
            return f"must be a date-time, not a date alone; it {NEEDS_OFFSET}"
        return problem_with(instant)
    if date in kind:
        try:
            return problem_with(date.fromisoformat(raw))
        except ValueError:
            return None
    return None


@dataclass
class _Declared:
    path: dict[str, set[type]] = field(default_factory=dict)
    query: dict[str, set[type]] = field(default_factory=dict)
    body: dict[str, set[type]] = field(default_factory=dict)


def _declared(dependant: Dependant, into: _Declared | None = None) -> _Declared:
    """The parameters of a route and of all its dependencies, by name, with their base types."""
    into = into or _Declared()
    for target, params in (
        (into.path, dependant.path_params),
        (into.query, dependant.query_params),
        (into.body, dependant.body_params),
    ):
        for p in params:
            target[p.alias] = _base_types(p.field_info.annotation)
    for sub in dependant.dependencies:
        _declared(sub, into)
    return into


_CACHE_ATTR = "_fieldline_declared_params"  # kept on the route itself, computed on first use


async def guard_params(request: Request) -> None:
    """Router dependency: refuse hostile path, query and form values before the endpoint runs."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared: _Declared | None = getattr(route, _CACHE_ATTR, None)
    if declared is None:
        declared = _declared(route.dependant)
        setattr(route, _CACHE_ATTR, declared)
    errors: list[dict[str, Any]] = []
    sources: list[tuple[str, dict[str, set[type]], Any]] = [
        ("path", declared.path, request.path_params),
        ("query", declared.query, request.query_params),
    ]
    ctype = request.headers.get("content-type", "")
    if declared.body and ctype.startswith("application/x-www-form-urlencoded"):
        sources.append(("body", declared.body, await request.form()))  # parsed once, cached
    for where, kinds, values in sources:
        items = values.multi_items() if hasattr(values, "multi_items") else values.items()
        for name, raw in items:
            if not isinstance(raw, str):
                continue
            # Undeclared parameters are ignored by the endpoint, but a NUL is refused anyway.
            reason = _check_param(kinds.get(name, set()), raw)
            if reason:
                errors.append({"loc": (where, name), "msg": reason, "type": "value_error"})
    if errors:
        raise RequestValidationError(errors)
