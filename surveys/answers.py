"""Raw form or JSON input → a validated :class:`Answer`, or errors naming the field in human words.

Form posts give strings ("4", "yes", a list of chip codes); JSON gives ints, bools and lists. Both
are accepted. Fields that are not questions of the template (a token, a CSRF field) are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from .questions import Question, Template

# C0 and C1 controls other than tab, line feed and carriage return: a NUL breaks PostgreSQL text,
# the rest are invisible and only ever arrive from scripts probing the form.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
T = TypeVar("T")
_YES = {"yes", "true", "1", "y", "on"}
_NO = {"no", "false", "0", "n", "off"}


@dataclass(frozen=True, slots=True)
class Answer:
    """One customer's answer. A question not asked or left empty is None / empty."""

    csat: int | None = None  # 1..5
    nps: int | None = None  # 0..10
    ces: int | None = None  # 1..7, 7 = very easy
    solved: bool | None = None
    reasons: frozenset[str] = frozenset()  # chip codes
    comment: str = ""

    @property
    def is_detractor(self) -> bool:
        """The follow-up rule: NPS ≤ 6, CSAT ≤ 2, or "not solved" (see docs/kpis.md)."""
        return (
            (self.nps is not None and self.nps <= 6)
            or (self.csat is not None and self.csat <= 2)
            or self.solved is False
        )


# What went wrong, as a code: an app that speaks to customers in other languages words the message
# itself from the code, the question and `value` (the English `message` is this library's).
ERROR_CODES = (
    "required",
    "scale",
    "yes_no",
    "chips",
    "chip_unknown",
    "text",
    "text_control",
    "text_too_long",
)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # the form field, for placing the message next to it
    message: str  # a sentence for the customer
    code: str = ""  # one of ERROR_CODES ("" for an error made elsewhere without one)
    value: str = ""  # what the message quotes: the unknown choice, the length typed


class InvalidAnswer(ValueError):
    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("; ".join(e.message for e in errors))
        self.errors = errors


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _scale(q: Question, value: object) -> int | FieldError:
    msg = f"{q.name} must be a whole number from {q.low} to {q.high}"
    # bool is an int in Python; True is not a rating.
    if isinstance(value, bool):
        return FieldError(q.key, msg, "scale")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,3}\s*", value):
        number = int(value)
    else:
        return FieldError(q.key, msg, "scale")
    if not q.low <= number <= q.high:
        return FieldError(q.key, msg, "scale")
    return number


def _yes_no(q: Question, value: object) -> bool | FieldError:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES:
        return True
    if isinstance(value, str) and value.strip().lower() in _NO:
        return False
    return FieldError(q.key, f"{q.name}: please answer yes or no", "yes_no")


def _chips(q: Question, value: object) -> frozenset[str] | FieldError:
    if isinstance(value, str):
        items: list[object] = [v for v in value.split(",") if v.strip()]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        return FieldError(q.key, f"{q.name}: please pick from the choices shown", "chips")
    allowed = {c.code for c in q.chips}
    codes: set[str] = set()
    for item in items:
        if not isinstance(item, str) or item.strip() not in allowed:
            shown = str(item)[:40]
            return FieldError(q.key, f"{q.name}: “{shown}” is not one of the choices", "chip_unknown", shown)
        codes.add(item.strip())
    return frozenset(codes)


def _text(q: Question, value: object) -> str | FieldError:
    if not isinstance(value, str):
        return FieldError(q.key, f"{q.name} must be text", "text")
    if _CONTROL.search(value):
        return FieldError(q.key, f"{q.name} contains characters that cannot be stored", "text_control")
    text = value.replace("\r\n", "\n").strip()
    if len(text) > q.max_chars:
        return FieldError(
            q.key,
            f"{q.name} is too long: at most {q.max_chars} characters, got {len(text)}",
            "text_too_long",
            str(len(text)),
        )
    return text


def parse_answer(raw: Mapping[str, object], template: Template) -> Answer:
    """Validate ``raw`` against ``template``; raise :class:`InvalidAnswer` listing every bad field."""
    values: dict[str, object] = {}
    errors: list[FieldError] = []
    for q in template.questions:
        value = raw.get(q.key)
        if _blank(value):
            if q.required:
                errors.append(FieldError(q.key, f"{q.name} is required: please choose one", "required"))
            continue
        parsed: object
        if q.kind == "scale":
            parsed = _scale(q, value)
        elif q.kind == "yes_no":
            parsed = _yes_no(q, value)
        elif q.kind == "chips":
            parsed = _chips(q, value)
        else:
            parsed = _text(q, value)
        if isinstance(parsed, FieldError):
            errors.append(parsed)
        else:
            values[q.key] = parsed
    if errors:
        raise InvalidAnswer(tuple(errors))
    return Answer(
        csat=_get(values, "csat", int),
        nps=_get(values, "nps", int),
        ces=_get(values, "ces", int),
        solved=_get(values, "solved", bool),
        reasons=_get(values, "reasons", frozenset) or frozenset(),
        comment=_get(values, "comment", str) or "",
    )


def _get(values: Mapping[str, object], key: str, kind: type[T]) -> T | None:
    value = values.get(key)
    return value if isinstance(value, kind) else None
