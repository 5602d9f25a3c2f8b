"""Answers in JSON Lines, as exported by the app or written by hand, for the command line.

One object per line::

    {"answered_at": "2026-03-03T22:30:00Z", "csat": 4, "nps": 9, "ces": 6, "solved": true,
     "reasons": ["late"], "comment": "…", "region": "north", "engineer": "E7",
     "facts": {"late": true, "repeat_visit": false}}

Question fields are validated like a posted form; any other scalar field is a grouping key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .answers import Answer, InvalidAnswer, parse_answer
from .questions import QUESTIONS, TEMPLATES


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


def parse_record(obj: object, line: int) -> AnswerRecord:
    if not isinstance(obj, dict):
        raise BadRecord(line, "expected a JSON object")
    try:
        answer = parse_answer(obj, TEMPLATES["all"])
    except InvalidAnswer as exc:
        raise BadRecord(line, str(exc)) from None
    raw_facts = obj.get("facts", {})
    if not isinstance(raw_facts, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in raw_facts.items()
    ):
        raise BadRecord(line, "facts must be an object of true/false values")
    keys = {
        k: str(v)
        for k, v in obj.items()
        if k not in QUESTIONS and k not in ("facts", "answered_at") and isinstance(v, str | int)
    }
    return AnswerRecord(answer, line, _time(obj.get("answered_at"), line), keys, dict(raw_facts))


def read_jsonl(lines: Iterator[str]) -> Iterator[AnswerRecord]:
    """Records from JSON Lines; blank lines are skipped; the first bad line raises :class:`BadRecord`."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadRecord(number, f"not JSON ({exc.msg})") from None
        yield parse_record(obj, number)
