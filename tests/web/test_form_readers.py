"""The pages' shared readers of typed input: one clock parser (the what-if, absences, on-call cover,
shifts), one reading of pydantic's errors (the engineer form, absences, cover) and one LIKE
escape (the customer search, the queue's customer filter)."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails

from app.platform.like import like_contains, like_literal, like_prefix
from app.web.messages import readable
from app.web.shared import parse_clock


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("8:00", time(8)),
        ("08:00", time(8)),
        (" 13:30 ", time(13, 30)),
        ("13.30", time(13, 30)),
        ("9.30", time(9, 30)),
        ("13:30:15", time(13, 30, 15)),  # a time input with seconds
        ("13.30:15", time(13, 30, 15)),
        ("13:30:00.000", time(13, 30)),  # with milliseconds; the fraction is dropped
        ("1330", time(13, 30)),  # ISO 8601's basic format, which the what-if read
        ("133015", time(13, 30, 15)),
        ("13", time(13)),
        ("8", time(8)),
        ("0:00", time(0)),
        ("23:59:59", time(23, 59, 59)),
    ],
)
def test_a_time_of_day_is_read_as_people_type_it(typed: str, read: time) -> None:
    assert parse_clock(typed) == read


@pytest.mark.parametrize(
    "typed",
    ["", "  ", "25:00", "24:00", "12:60", "12:30:60", "830", "13:3", "13h30", "noon", "T13:30", "13:30Z",
     "13:30+01:00", "2026-03-01T13:30", "13:30:00.1234567", "1" * 5000],
)  # fmt: skip
def test_anything_else_is_refused_saying_so(typed: str) -> None:
    with pytest.raises(ValueError, match="is not a time of day, e.g. 13:30 or 13.30") as refused:
        parse_clock(typed)
    assert len(str(refused.value)) < 80  # a typed novel is not repeated back


class _Body(BaseModel):
    name: str = Field(default="x", min_length=1, max_length=5)
    count: int = Field(default=1, ge=1, le=9)
    items: list[int] = Field(default_factory=list, max_length=2)
    code: str = Field(default="a", pattern=r"^[a-z]+$")


def _error(**fields: Any) -> ErrorDetails:
    with pytest.raises(ValidationError) as refused:
        _Body.model_validate(fields)
    (error,) = refused.value.errors()
    return error


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"name": ""}, "must not be blank"),
        ({"name": "x" * 6}, "at most 5 characters"),
        ({"count": 0}, "at least 1"),
        ({"count": 10}, "at most 9"),
        ({"items": [1, 2, 3]}, "at most 2 items"),
        ({"code": "A!"}, "contains characters that are not allowed"),
        ({"count": "many"}, "Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_pydantic_errors_are_said_in_the_forms_words(fields: dict[str, Any], said: str) -> None:
    assert readable(_error(**fields)) == said


def test_a_form_says_what_its_pattern_means() -> None:
    assert readable(_error(code="A!"), mismatch="letters only") == "letters only"


def test_like_patterns_match_the_typed_text_literally() -> None:
    assert like_literal("100%_a\\b") == "100\\%\\_a\\\\b"
    assert like_contains("50%_off") == "%50\\%\\_off%"
    assert like_prefix("t_rex") == "t\\_rex%"
    assert like_contains("plain") == "%plain%"
