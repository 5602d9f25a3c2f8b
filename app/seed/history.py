"""Rows of the seeded ticket and visit history: each simulated case cut at `now`.

What happened up to `now` is written the way the app would have written it: the ticket with
its status and timestamps, its timeline (created, reply, visit hooks, status changes), its SLA
ledger (start, met/breach per metric, stop) and cached due times, and its work orders with
their events, expected parts, time windows and parts used. Due times of tickets still open at
`now` come from `app.desk.sla.calendar.add_covered` itself; closed history uses the equivalent FastCalendar.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from app.desk.sla import calendar as sla
from app.seed.cases import MIN, Case, Visit
from app.seed.data import CALL_NOTES, REPLIES
from app.seed.feedback import ANSWER_COLS, SURVEY_COLS, SurveySeeder
from app.seed.staff import Staff
from app.seed.world import World
from app.seed.writer import BulkWriter

TICKET_COLS = (
    "id",
    "number",
    "account_id",
    "contact_id",
    "asset_id",
    "site_id",
    "channel",
    "subject",
    "description",
    "category",
    "priority",
    "status",
    "assignee_id",
    "sla_tier",
    "sla_calendar_id",
    "sla_contract_id",
    "opened_at",
    "first_response_at",
    "first_response_via",
    "first_contact_channel",
    "first_reply_at",
    "first_visit_at",
    "arrived_at",
    "resolved_at",
    "closed_at",
    "first_response_due_at",
    "arrival_due_at",
    "resolution_due_at",
    "sla_paused",
    "sla_breached",
    "email_thread_id",
    "updated_at",
    "version",
)
TICKET_EVENT_COLS = ("id", "ticket_id", "at", "kind", "actor_id", "channel", "body", "data", "message_id")
SLA_EVENT_COLS = ("id", "ticket_id", "at", "kind", "metric", "channel", "data")
WO_COLS = (
    "id",
    "number",
    "ticket_id",
    "account_id",
    "site_id",
    "asset_id",
    "region_id",
    "priority",
    "status",
    "required_skills",
    "duration_min",
    "appointment_start_at",
    "appointment_end_at",
    "sla_deadline_at",
    "engineer_id",
    "planned_start_at",
    "eta_at",
    "checked_in_at",
    "checked_out_at",
    "report_work_done",
    "fixed_first_time",
    "notes",
    "created_at",
    "updated_at",
    "version",
)
WO_EVENT_COLS = ("id", "work_order_id", "at", "kind", "actor_id", "data")
WO_PART_COLS = ("work_order_id", "part_id", "quantity")
WINDOW_COLS = ("id", "work_order_id", "starts_at", "ends_at")
USAGE_COLS = ("id", "work_order_id", "part_id", "location_id", "quantity", "at")
# Write order respects foreign keys.
TABLES = (
    ("ticket", TICKET_COLS),
    ("work_order", WO_COLS),
    ("work_order_part", WO_PART_COLS),
    ("work_order_window", WINDOW_COLS),
    ("work_order_event", WO_EVENT_COLS),
    ("part_usage", USAGE_COLS),
    ("ticket_event", TICKET_EVENT_COLS),
    ("sla_event", SLA_EVENT_COLS),
)
METRICS = ("first_response", "arrival", "resolution")
_status_json: dict[tuple[str, str, str], str] = {}


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts), UTC)


def _status(old: str, new: str, reason: str) -> str:
    key = (old, new, reason)
    if key not in _status_json:
        data = {"from": old, "to": new, **({"reason": reason} if reason else {})}
        _status_json[key] = json.dumps(data)
    return _status_json[key]


class HistoryWriter:
    def __init__(
        self,
        w: BulkWriter,
        world: World,
        now: float,
        rng: random.Random | None = None,
        staff: Staff | None = None,
    ) -> None:
        self.w, self.world, self.now = w, world, now
        self.staff = staff or Staff()
        self.buf: dict[str, list[tuple[object, ...]]] = {name: [] for name, _ in TABLES}
        self.surveys = SurveySeeder(w, world, now, rng or random.Random(0))

    def flush(self) -> None:
        """Write what was collected; call it after whole accounts (the survey cooldown is per contact)."""
        for name, cols in TABLES:
            self.w.write(name, cols, self.buf[name])
            self.buf[name] = []
        surveys, answers = self.surveys.flush()
        self.w.write("survey", SURVEY_COLS, surveys)
        self.w.write("survey_answer", ANSWER_COLS, answers)

    def _due(self, case: Case, minutes: int, exact: bool) -> float:
        if exact:  # still open: the app's own covered-time maths
            cal = self.world.exact[case.cal_id]
            return sla.add_covered(cal, utc(case.opened), timedelta(minutes=minutes)).timestamp()
        return self.world.fast[case.cal_id].add(case.opened, minutes)

    def add(self, case: Case, account_region: str = "") -> None:
        """`account_region`: the desk team that works a ticket without a site."""
        now, w = self.now, self.w
        tid = w.next_id("ticket")
        number = f"T-{tid:07d}"
        resolved = case.resolved if case.resolved <= now else None
        closed = case.closed if case.closed <= now else None
        reply = case.reply if case.reply <= now else None
        targets = case.targets
        dues = [self._due(case, m, exact=resolved is None) for m in targets]
        timeline: list[tuple[float, str, str | None, str, str]] = []
        status = "new"

        def move(at: float, to: str, channel: str | None, reason: str = "") -> None:
            nonlocal status
            timeline.append((at, "status", channel, reason, _status(status, to, reason)))
            status = to

        timeline.append(
            (
                case.opened,
                "created",
                case.channel,
                case.description,
                json.dumps(
                    {"subject": case.subject, "priority": case.priority, "sla_tier": case.tier},
                    ensure_ascii=False,
                ),
            )
        )
        # The first human contact (docs/tickets.md "First response"): a phone case is called
        # back (a logged call), the others get a written reply. Visits the planner schedules later
        # never count, so first response is this contact and nothing else.
        reply_channel = "email" if case.channel in ("email", "web", "api") else "phone"
        via = "reply" if reply_channel == "email" else "call"
        if reply is not None:
            if via == "call":
                call = json.dumps(
                    {"direction": "outbound", "duration_min": 3 + tid % 9, "contact_channel": "phone"}
                )
                timeline.append((reply, "call", "desk", CALL_NOTES[tid % len(CALL_NOTES)], call))
            else:
                timeline.append((reply, "reply", reply_channel, REPLIES[tid % len(REPLIES)], "{}"))
            move(reply, "open", reply_channel)
        first_visit = arrived = None
        has_wo = False
        for k, v in enumerate(case.visits):
            if v.created > now:
                break
            has_wo = True
            self._work_order(case, v, k, tid, dues[1])
            if v.sched <= now:
                timeline.append((v.sched, "visit_scheduled", "field", "", "{}"))
                first_visit = first_visit or v.sched
                if status != "scheduled":
                    move(v.sched, "scheduled", "field", "visit scheduled")
            if v.checkin <= now:
                timeline.append((v.checkin, "visit_arrived", "field", "", "{}"))
                arrived = arrived or v.checkin
                move(v.checkin, "in_progress", "field", "engineer on site")
            if v.checkout <= now:
                timeline.append(
                    (
                        v.checkout,
                        "visit_finished",
                        "field",
                        "",
                        f'{{"fixed":{"true" if v.fixed else "false"},"work_order_id":{v.id}}}',
                    )
                )
        done_channel = "field" if case.visits else reply_channel
        if resolved is not None:
            move(resolved, "resolved", done_channel, "fixed on site" if case.visits else "")
        if closed is not None:
            move(closed, "closed", None)

        # SLA ledger: start, one outcome per metric, stop.
        achieved = (reply, arrived, resolved)
        applies = (True, has_wo, True)
        contract = case.contract_id if case.contract_id is not None else "null"
        start = (
            f'{{"tier":"{case.tier}","calendar_id":{case.cal_id},"contract_id":{contract},'
            f'"priority":"{case.priority}","targets":{{"first_response":{targets[0]},'
            f'"arrival":{targets[1]},"resolution":{targets[2]}}}}}'
        )
        ledger: list[tuple[float, str, str | None, str | None, str]] = [
            (case.opened, "start", None, case.channel, start)
        ]
        breached = False
        for metric, due, got, ok in zip(METRICS, dues, achieved, applies, strict=True):
            iso = utc(due).isoformat()
            if got is not None and got <= due:
                ledger.append((got, "met", metric, done_channel, f'{{"due_at":"{iso}"}}'))
            elif ok and due <= now and (got is not None or resolved is None):
                breached = True
                ledger.append((due, "breach", metric, None, f'{{"due_at":"{iso}","detected_at":"{iso}"}}'))
        if resolved is not None:
            ledger.append((resolved, "stop", None, done_channel, '{"reason":"resolved"}'))
        self.surveys.add_case(case, tid, breached)
        arrival_due: float | None = dues[1]
        if resolved is not None and arrived is None and dues[1] > resolved:
            arrival_due = None  # the clock stopped before the arrival target ran out
        updated = max(t[0] for t in timeline)
        self.buf["ticket"].append(
            (
                tid,
                number,
                case.account_id,
                case.contact_id,
                case.asset.id if case.asset else None,
                case.asset.site_id if case.asset else None,
                case.channel,
                case.subject,
                case.description,
                case.category,
                case.priority,
                status,
                None
                if status in ("resolved", "closed")
                else self.staff.assignee(case.asset.region if case.asset else account_region, tid),
                case.tier,
                case.cal_id,
                case.contract_id,
                utc(case.opened),
                _dt(reply),
                via if reply is not None else None,
                (reply_channel if via == "call" else "email") if reply is not None else None,
                _dt(reply) if via == "reply" else None,
                _dt(first_visit),
                _dt(arrived),
                _dt(resolved),
                _dt(closed),
                utc(dues[0]),
                _dt(arrival_due),
                utc(dues[2]),
                False,
                breached,
                None,
                utc(updated),
                1,
            )
        )
        events = self.buf["ticket_event"]
        for at, kind, channel, body, data in sorted(timeline, key=lambda t: t[0]):
            events.append((w.next_id("ticket_event"), tid, utc(at), kind, None, channel, body, data, None))
        sla_rows = self.buf["sla_event"]
        for sla_at, sla_kind, sla_metric, sla_channel, sla_data in sorted(ledger, key=lambda t: t[0]):
            sla_rows.append(
                (w.next_id("sla_event"), tid, utc(sla_at), sla_kind, sla_metric, sla_channel, sla_data)
            )

    def _work_order(self, case: Case, v: Visit, k: int, tid: int, arrival_due: float) -> None:
        now, w, world = self.now, self.w, self.world
        asset = case.asset
        assert asset is not None
        eng = world.engineers[v.eng]
        actor = eng.user_id
        scheduled, checked_in, checked_out = v.sched <= now, v.checkin <= now, v.checkout <= now
        if checked_out:
            status = "done" if v.fixed else "needs_follow_up"
        elif checked_in:
            status = "on_site"
        else:
            status = "scheduled" if scheduled else "unscheduled"
        events = self.buf["work_order_event"]
        events.append(
            (w.next_id("work_order_event"), v.id, utc(v.created), "created", None, f'{{"ticket_id":{tid}}}')
        )
        last = v.created
        if scheduled:
            events.append(
                (
                    w.next_id("work_order_event"),
                    v.id,
                    utc(v.sched),
                    "scheduled",
                    None,
                    f'{{"engineer_id":{eng.id},"planned_start_at":"{utc(v.planned).isoformat()}"}}',
                )
            )
            events.append(
                (
                    w.next_id("work_order_event"),
                    v.id,
                    utc(v.sched),
                    "status",
                    None,
                    _status("unscheduled", "scheduled", "scheduled"),
                )
            )
            last = v.sched
        if checked_in:
            events.append((w.next_id("work_order_event"), v.id, utc(v.checkin), "check_in", actor, "{}"))
            events.append(
                (
                    w.next_id("work_order_event"),
                    v.id,
                    utc(v.checkin),
                    "status",
                    actor,
                    _status("scheduled", "on_site", "checked in"),
                )
            )
            last = v.checkin
        report = None
        if checked_out:
            used = [[pid, 1, eng.van_id] for pid in v.used] if v.fixed else []
            events.append(
                (
                    w.next_id("work_order_event"),
                    v.id,
                    utc(v.checkout),
                    "report",
                    actor,
                    json.dumps({"fixed": v.fixed, "parts_used": used}),
                )
            )
            events.append(
                (
                    w.next_id("work_order_event"),
                    v.id,
                    utc(v.checkout),
                    "status",
                    actor,
                    _status("on_site", status, "service report"),
                )
            )
            last = v.checkout
            report = self._report(case, v)
            for pid, qty, loc in used:
                self.buf["part_usage"].append((w.next_id("part_usage"), v.id, pid, loc, qty, utc(v.checkout)))
        for pid in v.expected:
            self.buf["work_order_part"].append((v.id, pid, 1))
        if v.window is not None:
            self.buf["work_order_window"].append(
                (w.next_id("work_order_window"), v.id, utc(v.window[0]), utc(v.window[1]))
            )
        self.buf["work_order"].append(
            (
                v.id,
                f"WO-{v.id:07d}",
                tid,
                case.account_id,
                asset.site_id,
                asset.id,
                world.regions[asset.region],
                case.priority,
                status,
                f'["{v.skill}"]',
                v.dur_min,
                _dt(v.window[0] if v.window else None),
                _dt(v.window[1] if v.window else None),
                utc(arrival_due),
                eng.id if scheduled else None,
                utc(v.planned) if scheduled else None,
                utc(v.planned) if scheduled else None,
                _dt(v.checkin if checked_in else None),
                _dt(v.checkout if checked_out else None),
                report,
                (v.fixed and k == 0) if checked_out else None,
                "Rufbereitschaft: Notfall außerhalb der Schicht" if v.on_call else "",
                utc(v.created),
                utc(last),
                1,
            )
        )

    def _report(self, case: Case, v: Visit) -> str:
        names = self.world.part_names
        if not v.fixed:
            return f"Ersatzteil {names[v.missing[0]]} erforderlich, nicht im Fahrzeug. Folgetermin nötig."
        if case.category == "maintenance":
            extra = f" {names[v.used[0]]} ersetzt." if v.used else ""
            return "Wartung gemäß Checkliste durchgeführt, keine Mängel." + extra
        if v.used:
            return f"{', '.join(names[p] for p in v.used)} getauscht, Funktionsprüfung in Ordnung."
        return "Störung behoben, Anlage geprüft und wieder in Betrieb genommen."


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else utc(ts)


__all__ = ["MIN", "HistoryWriter", "TABLES"]
