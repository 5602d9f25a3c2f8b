"""Question types, survey templates, and the rule table that picks a template for a case.

Everything here is data: the app renders a template's questions in order and hands the posted
form to :func:`surveys.answers.parse_answer` with the same template.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

QuestionKind = Literal["scale", "yes_no", "chips", "text"]
Trigger = Literal["visit_checked_out", "ticket_resolved"]

COMMENT_MAX_CHARS = 2000  # room for a paragraph; long enough that nobody is cut off mid-thought


@dataclass(frozen=True, slots=True)
class Chip:
    code: str  # stored and counted
    label: str  # shown to the customer


# Reason chips offered under "What went wrong?". Codes are stable (they are stored with answers
# and counted in reports); labels may be reworded freely.
REASON_CHIPS: tuple[Chip, ...] = (
    Chip("late", "The engineer came late"),
    Chip("not_fixed", "The problem is not fixed"),
    Chip("part_missing", "A part was missing"),
    Chip("unfriendly", "Someone was unfriendly"),
    Chip("other", "Something else"),
)


@dataclass(frozen=True, slots=True)
class Question:
    key: str  # the form field name and the Answer attribute
    kind: QuestionKind
    label: str  # the question as the customer reads it
    name: str  # a short human name for error messages ("Rating", "Recommendation score")
    low: int = 0  # scale bounds, inclusive
    high: int = 0
    low_label: str = ""  # words under the ends of a scale
    high_label: str = ""
    chips: tuple[Chip, ...] = ()
    max_chars: int = 0  # text only
    required: bool = False


CSAT = Question(
    "csat",
    "scale",
    "How satisfied are you with the service?",
    "Rating",
    low=1,
    high=5,
    low_label="Very dissatisfied",
    high_label="Very satisfied",
    required=True,
)
NPS = Question(
    "nps",
    "scale",
    "How likely are you to recommend us to a colleague?",
    "Recommendation score",
    low=0,
    high=10,
    low_label="Not at all likely",
    high_label="Extremely likely",
)
CES = Question(
    "ces",
    "scale",
    "How easy was it to get your issue handled?",
    "Effort score",
    low=1,
    high=7,
    low_label="Very difficult",
    high_label="Very easy",
)
SOLVED = Question("solved", "yes_no", "Was your problem solved?", "Solved")
REASONS = Question("reasons", "chips", "What went wrong?", "Reasons", chips=REASON_CHIPS)
COMMENT = Question(
    "comment", "text", "Anything else you would like to tell us?", "Comment", max_chars=COMMENT_MAX_CHARS
)

QUESTIONS: dict[str, Question] = {q.key: q for q in (CSAT, NPS, CES, SOLVED, REASONS, COMMENT)}


@dataclass(frozen=True, slots=True)
class Template:
    id: str
    title: str
    questions: tuple[Question, ...]

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)


TEMPLATES: dict[str, Template] = {
    t.id: t
    for t in (
        # After a visit: short, so that many answer. The rating is the one-click link in the mail.
        Template("post_visit", "How was our visit?", (CSAT, SOLVED, REASONS, COMMENT)),
        # Contract customers get the relationship questions too: NPS is what renewals follow.
        Template("post_visit_contract", "How was our visit?", (CSAT, NPS, SOLVED, REASONS, COMMENT)),
        # After a desk-only resolution: effort matters more than the engineer's manner.
        Template("post_resolution", "How did we handle your request?", (CSAT, CES, SOLVED, COMMENT)),
        # Every question, all optional: for imports and the command line.
        Template("all", "Survey", (replace(CSAT, required=False), NPS, CES, SOLVED, REASONS, COMMENT)),
    )
}


@dataclass(frozen=True, slots=True)
class Rule:
    trigger: Trigger
    tier: str  # customer tier ("standard", "silver", "gold", "platinum") or "*"
    channel: str  # the ticket's channel ("phone", "email", "web", "api") or "*"
    template_id: str | None  # None: send no survey


# First matching row wins; read it top to bottom like a transition table.
TEMPLATE_RULES: tuple[Rule, ...] = (
    # Tickets opened through the API come from machines (monitoring, a partner's system): there is
    # nobody to ask about the desk, but the visit still had a person on site.
    Rule("ticket_resolved", "*", "api", None),
    Rule("visit_checked_out", "platinum", "*", "post_visit_contract"),
    Rule("visit_checked_out", "gold", "*", "post_visit_contract"),
    Rule("visit_checked_out", "silver", "*", "post_visit_contract"),
    Rule("visit_checked_out", "*", "*", "post_visit"),
    Rule("ticket_resolved", "*", "*", "post_resolution"),
)


def choose_template(
    trigger: Trigger, tier: str, channel: str, rules: tuple[Rule, ...] = TEMPLATE_RULES
) -> Template | None:
    """The template for a case, or None when the rules say no survey is sent."""
    for rule in rules:
        if rule.trigger == trigger and rule.tier in ("*", tier) and rule.channel in ("*", channel):
            return None if rule.template_id is None else TEMPLATES[rule.template_id]
    return None


def survey_for(
    trigger: Trigger, account_tier: str | None, channel: str, rules: tuple[Rule, ...] = TEMPLATE_RULES
) -> tuple[str, Template | None]:
    """The tier a case's survey is filed under and its template (None: no survey). The tier is the
    customer's account tier, not the ticket's SLA entitlement: a gold account's asset without a
    contract is served at standard SLA, but its survey is a gold customer's (and asks NPS). The app's
    capture and the demo seed both call this, so seeded and live surveys slice alike."""
    tier = account_tier or "standard"
    return tier, choose_template(trigger, tier, channel, rules)
