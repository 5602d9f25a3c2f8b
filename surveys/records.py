"""Answers in JSON Lines, as exported by the app or written by hand, for the command line.

One object per line::

    {"answered_at": "2026-03-03T22:30:00Z", "csat": 4, "nps": 9, "ces": 6, "solved": true,
     "reasons": ["late"], "comment": "…", "region": "north", "engineer": "E7",
     "facts": {"late": true, "repeat_visit": false}}

Question fields are validated like a posted form, and messages name the JSON key ("csat must be a
whole number from 1 to 5"); a line must answer at least one of csat, nps, ces and solved. Any other
field is a grouping key: its value is text, or null for "(none)" (1 and "1" would merge, true
would become "True": refused). A leading UTF-8 byte-order mark is no data.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .answers import Answer, FieldError, InvalidAnswer, parse_answer
from .questions import QUESTIONS, TEMPLATES

# The fields a line must answer at least one of: the ones the KPIs count.
SCORE_KEYS = ("csat", "nps", "ces", "solved")
# Fields that are neither questions nor grouping keys.
RECORD_KEYS = ("facts", "answered_at")


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """An answer with its context: when, grouping keys, and the visit facts joined to it."""

    answer: Answer
    line: int  # 1-based line in the file, for messages
    answered_at: datetime | None = None
    keys: Mapping[str, str] = field(default_factory=dict)  # region, engineer, product_model, tier…
    facts: Mapping[str, bool] = field(default_factory=dict)


class BadRecord(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def _time(value: object, line: int) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRecord(line, "answered_at must be an ISO 8601 time text")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord(line, f"answered_at {value!r} is not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise BadRecord(line, f"answered_at {value!r} has no time zone (add Z or +01:00)")
    return at


def meant(key: str) -> str | None:
    """The question or field a grouping key looks like a misspelling of ("cast" → "csat"), if any."""
    known = (*QUESTIONS, *RECORD_KEYS)
    if key in known:
        return None
    low = key.lower()
    same_letters = [k for k in known if sorted(k) == sorted(low)]
    close = same_letters or difflib.get_close_matches(low, known, n=1, cutoff=0.7)
    return close[0] if close else None


def _keyed(error: FieldError) -> str:
    """The customer's message with the JSON key for the question's display name."""
    name = QUESTIONS[error.field].name if error.field in QUESTIONS else ""
    if name and error.message.startswith(name):
        return error.field + error.message.removeprefix(name)
    return f"{error.field}: {error.message}"


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


def parse_record(obj: object, line: int) -> AnswerRecord:
    if not isinstance(obj, dict):
        raise BadRecord(line, "expected a JSON object")
    try:
        answer = parse_answer(obj, TEMPLATES["all"])
    except InvalidAnswer as exc:
        raise BadRecord(line, "; ".join(_keyed(e) for e in exc.errors)) from None
    if all(getattr(answer, k) is None for k in SCORE_KEYS):
        typos = [f"{k!r} is not {m!r}" for k in obj if k not in QUESTIONS and (m := meant(k))]
        hint = f" ({'; '.join(typos)})" if typos else ""
        raise BadRecord(line, f"no score: the line answers none of {', '.join(SCORE_KEYS)}{hint}")
    raw_facts = obj.get("facts", {})
    if not isinstance(raw_facts, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in raw_facts.items()
    ):
        raise BadRecord(line, "facts must be an object of true/false values")
    keys: dict[str, str] = {}
    for k, v in obj.items():
        if k in QUESTIONS or k in RECORD_KEYS or v is None:
            continue
        if not isinstance(v, str):
            hint = f"; did you mean {m!r}?" if (m := meant(k)) else ""
            raise BadRecord(line, f"{k} must be text or null, not {_show(v)} (a grouping key{hint})")
        keys[k] = v
    return AnswerRecord(answer, line, _time(obj.get("answered_at"), line), keys, dict(raw_facts))


def read_jsonl(lines: Iterator[str]) -> Iterator[AnswerRecord]:
    """Records from JSON Lines; blank lines are skipped; the first bad line raises :class:`BadRecord`."""
    for number, text in enumerate(lines, start=1):
        if number == 1:
            text = text.removeprefix("\ufeff")  # a byte-order mark (Windows tools) is no data
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRecord(number, f"not JSON ({exc.msg})") from None
        yield parse_record(obj, number)
