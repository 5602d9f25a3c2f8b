"""Fieldline surveys: questions and templates, answer validation, sending rules, KPI formulas,
driver statistics and the customer health score, over plain data (standard library only).

    from surveys import parse_answer, choose_template, next_step, kpis
    template = choose_template("visit_checked_out", tier="gold", channel="phone")
    answer = parse_answer(form, template)          # raises InvalidAnswer with FieldErrors
    kpis.csat([answer, ...])                        # Figure(value, n, unit, ci_low, ci_high)

Definitions of every metric: docs/kpis.md. Sending rules and lifecycle: docs/surveys.md.
"""

from . import kpis
from .answers import Answer, FieldError, InvalidAnswer, parse_answer
from .drivers import VISIT_FACTS, DriverEffect, RatedVisit, driver_effects
from .health import Health, HealthSignals, Reason, health_score
from .periods import Comparison, Period, group_by, group_by_period, local_date, period_of, with_previous
from .questions import (
    QUESTIONS,
    REASON_CHIPS,
    TEMPLATE_RULES,
    TEMPLATES,
    Chip,
    Question,
    Rule,
    Template,
    choose_template,
    survey_for,
)
from .sending import Recipient, SendingPolicy, Step, SurveyState, due_at, in_cooldown, next_step
from .stats import Figure, welch, wilson

__all__ = [
    "QUESTIONS",
    "REASON_CHIPS",
    "TEMPLATES",
    "TEMPLATE_RULES",
    "VISIT_FACTS",
    "Answer",
    "Chip",
    "Comparison",
    "DriverEffect",
    "FieldError",
    "Figure",
    "Health",
    "HealthSignals",
    "InvalidAnswer",
    "Period",
    "Question",
    "RatedVisit",
    "Reason",
    "Recipient",
    "Rule",
    "SendingPolicy",
    "Step",
    "SurveyState",
    "Template",
    "choose_template",
    "driver_effects",
    "due_at",
    "group_by",
    "group_by_period",
    "health_score",
    "in_cooldown",
    "kpis",
    "local_date",
    "next_step",
    "parse_answer",
    "period_of",
    "survey_for",
    "welch",
    "wilson",
    "with_previous",
]
