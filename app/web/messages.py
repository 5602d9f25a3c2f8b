"""Error text for pages: the labels a person sees on the form, never internal field names.

Services name fields as the API does ("ticket_id: no such ticket", "duration_min: between 5 and 1440");
API clients want exactly that, a person at the desk wants "Ticket: …" and "Duration (minutes): …".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic_core import ErrorDetails

from app.platform.errors import AppError

# What the forms call these fields; anything not listed is spelled out by `field_label`.
LABELS = {
    "account_id": "Customer",
    "appointment_end": "Appointment until",
    "appointment_end_at": "Appointment until",
    "appointment_start": "Appointment from",
    "appointment_start_at": "Appointment from",
    "assignee_id": "Assigned to",
    "asset_id": "Asset",
    "contact_id": "Contact",
    "duration_min": "Duration (minutes)",
    "email": "E-mail",
    "engineer_id": "Engineer",
    "eta_at": "Expected arrival",
    "external_id": "CRM id",
    "from_location_id": "From",
    "part_id": "Part",
    "planned_start": "Planned start",
    "q": "Search",
    "required_parts": "Parts needed",
    "required_skills": "Skills needed",
    "sku": "Part number",
    "ticket_id": "Ticket",
    "to_location_id": "To",
    "user_id": "User",
    "work_done": "Work done",
    "work_order_id": "Work order",
}
_UNIT_SUFFIXES = {"_min": " (minutes)", "_km": " (km)", "_at": "", "_id": ""}


def field_label(field: str) -> str:
    """'duration_min' → 'Duration (minutes)', 'required_parts.0.quantity' → 'Parts needed 1: quantity'."""
    parts = [p for p in field.split(".") if p]
    if not parts:
        return ""
    out: list[str] = []
    for part in parts:
        if part.isdecimal():  # list positions count from 1 for people
            out[-1:] = [f"{out[-1] if out else 'Item'} {int(part) + 1}"]
            continue
        out.append(LABELS.get(part) or _spell_out(part))
    head, *rest = out
    return ": ".join([head, *(r.lower() for r in rest)])


def _spell_out(name: str) -> str:
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)] + unit
            break
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


_SNAKE_NAME = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def names_to_labels(message: str) -> str:
    """'must be after appointment_start_at' → 'must be after “Appointment from”' (known fields only)."""
    return _SNAKE_NAME.sub(lambda m: f"“{LABELS[m[0]]}”" if m[0] in LABELS else m[0], message)


def labelled(errors: Iterable[tuple[str, str]]) -> str:
    """'Duration (minutes): between 5 and 1440 minutes; Appointment from: not a date and time'."""
    return "; ".join(
        f"{field_label(field)}: {names_to_labels(message)}" if field else names_to_labels(message)
        for field, message in errors
    )


def page_error(exc: AppError) -> str:
    """The message a page shows for a refused action: the service's, with fields by their labels."""
    errors: list[dict[str, Any]] = exc.errors or []
    raw = "; ".join(f"{e.get('field', '')}: {e.get('message', '')}" for e in errors)
    if errors and exc.detail == raw:  # the detail only lists the fields: say it with labels
        return labelled((str(e.get("field", "")), str(e.get("message", ""))) for e in errors)
    return exc.detail


def readable(error: ErrorDetails, *, mismatch: str = "contains characters that are not allowed") -> str:
    """A pydantic error in a form's words: "at most 40 characters", not "String should have at
    most 40 characters"; `mismatch` says what a refused pattern means on that form ("a skill
    cannot contain quotes"), pydantic would show the regular expression."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"at most {ctx['le']}"
    if kind == "string_too_short":
        return "must not be blank"
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items"
    if kind == "string_pattern_mismatch":
        return mismatch
    return str(error["msg"]).removeprefix("Value error, ")
