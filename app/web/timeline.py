"""Turns ticket timeline items (events and SLA ledger rows) into lines a person reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METRIC = {"first_response": "first response", "arrival": "arrival on site", "resolution": "resolution"}


def _status(value: Any) -> str:
    return str(value or "?").replace("_", " ")


def _title(item: Mapping[str, Any], names: Mapping[int, str]) -> str:
    kind, data = item["kind"], item["data"] or {}
    metric = METRIC.get(item.get("metric") or "", item.get("metric") or "")
    if kind == "created":
        return f"Ticket opened ({data.get('priority', '')}, {data.get('sla_tier', 'standard')} SLA)"
    if kind == "status":
        return f"Status {_status(data.get('from'))} → {_status(data.get('to'))}"
    if kind == "reply" and data.get("resolution"):
        return "Resolution recorded for the customer" + (
            f" ({data['to']})" if isinstance(data.get("to"), str) else ""
        )
    if kind == "call":
        who = "Call from the customer" if data.get("direction") == "inbound" else "Call to the customer"
        return f"{who} ({data.get('duration_min', '?')} min)"
    if kind == "email_in" and data.get("auto"):
        return "Automatic reply from the customer's side (status unchanged)"
    if kind == "appointment_confirmed":
        return f"Appointment agreed with the customer ({data.get('work_order', 'visit')})"
    if kind == "reply":
        return "Reply to the customer" + (f" ({data['to']})" if isinstance(data.get("to"), str) else "")
    if kind in ("priority",):
        return f"Priority {data.get('from')} → {data.get('to')}"
    if kind == "assigned":
        to = data.get("to")
        return "Assigned to " + (names.get(to, f"user {to}") if isinstance(to, int) else "nobody")
    if kind == "updated":
        fields = sorted(str(k).removesuffix("_id") for k in (data.get("changes") or {}))
        return "Changed " + ", ".join(fields)
    if kind == "kb_solved":
        first = " — first-contact resolution" if data.get("first_contact") else ""
        return f"Solved with knowledge article KB-{data.get('article_id', '?')}{first}"
    if kind == "kb_draft":
        return f"Draft knowledge article KB-{data.get('article_id', '?')} written from this ticket"
    if kind == "visit_finished":
        return "Visit finished" + (" — fixed" if data.get("fixed") else " — not fixed yet")
    if kind in ("sla_met", "sla_breach"):
        return f"{FIXED[kind]}: {metric}"
    if kind == "visit_arrival_withdrawn":
        who = names.get(item.get("actor_id") or 0, "")
        return f"Check-in at {data.get('number', 'a visit')} withdrawn" + (f" by {who}" if who else "")
    if kind == "sla_withdraw":
        return f"SLA {metric} withdrawn (a check-in undone)"
    label: str = FIXED.get(kind, kind.replace("_", " ").capitalize())
    return label


FIXED: dict[str, str] = {
    "note": "Internal note",
    "email_in": "E-mail from the customer",
    "visit_scheduled": "Visit scheduled",
    "visit_arrived": "Engineer arrived on site",
    "sla_start": "SLA clock started",
    "sla_pause": "SLA clock paused",
    "sla_resume": "SLA clock resumed",
    "sla_stop": "SLA clock stopped",
    "sla_retarget": "SLA targets recalculated",
    "sla_met": "SLA met",
    "sla_breach": "SLA breached",
    "at_risk": "At risk: the plan cannot meet the arrival due time",
    "at_risk_cleared": "No longer at risk",
}


def size_label(size: Any) -> str:
    """1.2 MB, 340 KB, 12 bytes (decimal units, as file managers show them)."""
    if not isinstance(size, int) or isinstance(size, bool):
        return "size unknown"
    if size < 1000:
        return f"{size} bytes"
    if size < 1_000_000:
        return f"{size / 1000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


def attachments(data: Mapping[str, Any]) -> list[str]:
    """An e-mail's attachments as lines: their names, types and sizes (the files are not kept)."""
    listed = data.get("attachments")
    lines = [
        f"Attachment not kept: {a.get('filename') or '(no name)'} ({a.get('content_type', '?')}, "
        f"{size_label(a.get('size'))})"
        for a in (listed if isinstance(listed, list) else [])
        if isinstance(a, Mapping)
    ]
    more = data.get("attachments_not_listed")
    if isinstance(more, int) and more > 0:
        lines.append(f"… and {more} more attachments, not listed")
    return lines


def delivery_line(data: Mapping[str, Any]) -> str:
    """A reply's mailing, as the agent reads it: queued, sent, retried, failed or not mailed."""
    d = data.get("delivery")
    if not isinstance(d, Mapping):
        return ""  # not mailed by the product (seeded history, replies older than the mailing)
    status, to, error = d.get("status"), d.get("to") or "", d.get("error") or ""
    attempts = d.get("attempts") or 0
    if status == "sent":
        return f"E-mail sent to {to}"
    if status == "skipped":
        return f"Not mailed: {error}"
    if status == "failed":
        return f"E-mail failed after {attempts} attempts: {error}"
    if status == "pending" and attempts:
        return f"E-mail to {to} failed (attempt {attempts}): {error}; retried automatically"
    if status == "sending":
        return f"E-mail to {to} being sent"
    return f"E-mail to {to} queued"


def describe(item: Mapping[str, Any], names: Mapping[int, str]) -> dict[str, Any]:
    kind = item["kind"]
    data = item["data"] or {}
    body = item.get("body") or ""
    if kind in ("sla_pause", "sla_stop", "sla_retarget") and data.get("reason"):
        body = f"Reason: {_status(data['reason'])}"
    css = "sla" if item["source"] == "sla" else kind
    if kind == "sla_breach":
        css = "sla sla-breach"
    return {
        "id": f"{item['source']}-{item['id']}",
        "css": css,
        "title": _title(item, names),
        "body": body,
        "at": item["at"],
        "actor": names.get(item.get("actor_id") or 0, ""),
        "channel": item.get("channel") or "",
        "attachments": attachments(data) if kind == "email_in" else [],
        "delivery": delivery_line(data) if kind == "reply" else "",
        "delivery_status": str((data.get("delivery") or {}).get("status") or "") if kind == "reply" else "",
        # a finished visit's line leads to its report on the same page (desk/_macros.html visit_report)
        "href": f"#visit-{data['work_order_id']}"
        if kind == "visit_finished" and isinstance(data.get("work_order_id"), int)
        else "",
    }
