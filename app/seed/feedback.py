"""Survey rows of the seeded history: one survey per finished visit (or per desk resolution),
sent and answered the way the app's rules would have done it, with scores that follow the visit.

Sending follows `surveys.next_step`'s rules in bulk: a survey goes out 2 h after the trigger
unless the contact had one in the last 30 days (skipped), and about 30 % are answered (some
after the reminder 3 days later). Scores are lower when the visit was late, a repeat visit, or
short of a part (a second trip), which is what the drivers view should then find again.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from app.models.feedback import VISIT_FACT_COLUMNS
from app.seed.cases import Case, Visit
from app.seed.world import World
from app.seed.writer import BulkWriter
from surveys import TEMPLATES, Answer, survey_for


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(round(ts), UTC)


HOUR = 3600.0
DAY = 24 * HOUR
DELAY_S = 2 * HOUR
COOLDOWN_S = 30 * DAY
REMINDER_S = 3 * DAY
ANSWER_RATE = 0.30
RETURN_WINDOW_S = 30 * DAY

CONTEXT_COLS = (
    "ticket_id",
    "work_order_id",
    "engineer_id",
    "account_id",
    "site_id",
    "region_id",
    "asset_id",
    "product_model_id",
    "tier",
    "channel",
)
SURVEY_COLS = (
    "id",
    "trigger_key",
    "trigger",
    "template_id",
    "contact_id",
    "triggered_at",
    "status",
    "case_state",
    "next_check_at",
    "sent_at",
    "reminders_sent",
    "last_mailed_at",
    "answered_at",
    "cancelled_at",
    "note",
    "created_at",
    *CONTEXT_COLS,
)
ANSWER_COLS = (
    "id",
    "survey_id",
    "template_id",
    "contact_id",
    "answered_at",
    "csat",
    "nps",
    "ces",
    "solved",
    "reasons",
    "comment",
    "is_detractor",
    *VISIT_FACT_COLUMNS,
    *CONTEXT_COLS,
)
TABLES = (("survey", SURVEY_COLS), ("survey_answer", ANSWER_COLS))
COMMENTS = {
    "good": ("Schnell und freundlich, danke!", "Top Techniker, alles erklärt.", "Alles bestens."),
    "bad": (
        "Techniker kam viel zu spät.",
        "Schon wieder ausgefallen, das dritte Mal.",
        "Ersatzteil fehlte, zweiter Termin nötig.",
        "Niemand hat uns Bescheid gegeben.",
    ),
}


@dataclass(slots=True)
class Candidate:
    """A survey trigger and what the visit was like; answered or not is decided on writing."""

    contact_id: int
    at: float
    key: str
    trigger: str
    template_id: str
    context: tuple[object, ...]
    facts: dict[str, object]
    fixed: bool


class SurveySeeder:
    def __init__(self, w: BulkWriter, world: World, now: float, rng: random.Random) -> None:
        self.w, self.world, self.now, self.rng = w, world, now, rng
        self.candidates: list[Candidate] = []
        self.last_fixed: dict[int, float] = {}  # asset id → last completed visit's checkout

    def _context(self, case: Case, tid: int, v: Visit | None, tier: str) -> tuple[object, ...]:
        asset = case.asset
        product = self.world.products[asset.product][0] if asset else None
        return (
            tid,
            v.id if v else None,
            self.world.engineers[v.eng].id if v else None,
            case.account_id,
            asset.site_id if asset else None,
            self.world.regions[asset.region] if asset else None,
            asset.id if asset else None,
            product,
            tier,
            case.channel,
        )

    def add_case(self, case: Case, tid: int, sla_breached: bool) -> None:
        """Collect the case's triggers that happened before now (in visit order)."""
        if case.contact_id is None:
            return
        done = [v for v in case.visits if v.checkout <= self.now]
        for k, v in enumerate(done):
            # as app.feedback.capture chooses it: the account's tier, not the SLA entitlement's
            tier, template = survey_for("visit_checked_out", case.account_tier, case.channel)
            asset_id = case.asset.id if case.asset else None
            previous = self.last_fixed.get(asset_id) if asset_id is not None else None
            repeat = previous is not None and 0 <= v.checkin - previous <= RETURN_WINDOW_S and k == 0
            if v.fixed and asset_id is not None:
                self.last_fixed[asset_id] = v.checkout
            if template is None:
                continue
            late_min = max(0.0, (v.checkin - v.window[1]) / 60.0) if v.window else None
            facts: dict[str, object] = {
                "minutes_late": late_min,
                "late": None if late_min is None else late_min > 0,
                "repeat_visit": repeat,
                "part_missing": (not v.fixed) or k > 0,
                "duration_overrun": (v.checkout - v.checkin) / 60.0 > v.dur_min * 1.25,
                "sla_breach": sla_breached,
                # Judged once the return window has passed: the work order's first visit fixed it.
                "first_time_fix": (v.fixed and k == 0) if v.checkout + RETURN_WINDOW_S <= self.now else None,
            }
            self.candidates.append(
                Candidate(
                    case.contact_id,
                    v.checkout,
                    f"visit:{v.id}",
                    "visit_checked_out",
                    template.id,
                    self._context(case, tid, v, tier),
                    facts,
                    v.fixed,
                )
            )
        if not case.visits and case.resolved <= self.now:
            tier, template = survey_for("ticket_resolved", case.account_tier, case.channel)
            if template is not None:
                self.candidates.append(
                    Candidate(
                        case.contact_id,
                        case.resolved,
                        f"ticket:{tid}:seed",
                        "ticket_resolved",
                        template.id,
                        self._context(case, tid, None, tier),
                        {"sla_breach": sla_breached},
                        True,
                    )
                )

    def flush(self) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
        """Surveys and answers of the collected triggers; contacts never span two flushes (each
        flush covers whole accounts), so the cooldown sees every survey of a contact."""
        surveys: list[tuple[object, ...]] = []
        answers: list[tuple[object, ...]] = []
        last_sent: dict[int, float] = {}
        for c in sorted(self.candidates, key=lambda c: (c.contact_id, c.at)):
            surveys_row, answer_row = self._rows(c, last_sent)
            surveys.append(surveys_row)
            if answer_row is not None:
                answers.append(answer_row)
        self.candidates = []
        return surveys, answers

    def _rows(
        self, c: Candidate, last_sent: dict[int, float]
    ) -> tuple[tuple[object, ...], tuple[object, ...] | None]:
        sid = self.w.next_id("survey")
        due = c.at + DELAY_S
        status, sent, answered, reminders, note = "pending", None, None, 0, "wait: waiting for the delay"
        previous = last_sent.get(c.contact_id)
        if due <= self.now:
            if previous is not None and due - previous < COOLDOWN_S:
                status, note = "skipped", "skip: the contact had a survey in the cooldown period"
            else:
                status, sent, note = "sent", due, "send: due"
                last_sent[c.contact_id] = due
        answer = None
        if sent is not None:
            if self.rng.random() < ANSWER_RATE:
                # Half answer the same day; some only after the reminder.
                delay = (
                    self.rng.expovariate(1 / (6 * HOUR)) if self.rng.random() < 0.8 else REMINDER_S + 2 * HOUR
                )
                if sent + delay <= self.now:
                    answered = sent + delay
                    reminders = 1 if delay >= REMINDER_S else 0
                    status, note = "answered", "done: answered"
                    answer = self._answer(c, sid, answered)
            if answered is None and sent + REMINDER_S <= self.now:
                reminders = 1
                status = "closed" if sent + 14 * DAY <= self.now else "sent"
        survey = (
            sid,
            c.key,
            c.trigger,
            c.template_id,
            c.contact_id,
            utc(c.at),
            status,
            "open",
            utc(due) if status in ("pending", "sent") else None,
            utc(sent) if sent is not None else None,
            reminders,
            utc(
                sent + REMINDER_S
                if reminders and (answered is None or answered > sent + REMINDER_S)
                else sent
            )
            if sent is not None
            else None,
            utc(answered) if answered is not None else None,
            None,
            note,
            utc(c.at),
            *c.context,
        )
        return survey, answer

    def _answer(self, c: Candidate, sid: int, at: float) -> tuple[object, ...]:
        rng, f = self.rng, c.facts
        late, repeat, missing = bool(f.get("late")), bool(f.get("repeat_visit")), bool(f.get("part_missing"))
        mean = 4.45 - 1.1 * late - 1.3 * repeat - 1.0 * missing - 0.4 * bool(f.get("sla_breach"))
        csat = min(5, max(1, round(rng.gauss(mean, 0.7))))
        nps = None
        if TEMPLATES[c.template_id].question("nps") is not None:
            nps = min(10, max(0, round(2 * csat + rng.gauss(-0.5, 1.2))))
        ces = (
            min(7, max(1, round(csat * 1.4 + rng.gauss(0, 0.8)))) if c.trigger == "ticket_resolved" else None
        )
        solved = c.fixed if rng.random() < 0.95 else not c.fixed
        reasons = []
        if csat <= 3:
            if late and rng.random() < 0.7:
                reasons.append("late")
            if missing and rng.random() < 0.6:
                reasons.append("part_missing")
            if not solved and rng.random() < 0.7:
                reasons.append("not_fixed")
        comment = ""
        if rng.random() < 0.2:
            pool = COMMENTS["bad"] if csat <= 2 else COMMENTS["good"] if csat >= 4 else ()
            comment = rng.choice(pool) if pool else ""
        detractor = Answer(csat=csat, nps=nps, ces=ces, solved=solved).is_detractor
        return (
            self.w.next_id("survey_answer"),
            sid,
            c.template_id,
            c.contact_id,
            utc(at),
            csat,
            nps,
            ces,
            solved,
            json.dumps(sorted(reasons)),
            comment,
            detractor,
            *(f.get(k) for k in VISIT_FACT_COLUMNS),
            *c.context,
        )
