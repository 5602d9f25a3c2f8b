"""Templates per tier and channel, and answer validation with messages a customer understands."""

from __future__ import annotations

import pytest

from surveys import TEMPLATES, Answer, InvalidAnswer, Rule, choose_template, parse_answer
from surveys.questions import COMMENT_MAX_CHARS

POST_VISIT = TEMPLATES["post_visit"]
CONTRACT = TEMPLATES["post_visit_contract"]


@pytest.mark.parametrize(
    ("trigger", "tier", "channel", "expected"),
    [
        ("visit_checked_out", "platinum", "phone", "post_visit_contract"),
        ("visit_checked_out", "gold", "api", "post_visit_contract"),  # a person was still on site
        ("visit_checked_out", "standard", "email", "post_visit"),
        ("ticket_resolved", "gold", "email", "post_resolution"),
        ("ticket_resolved", "standard", "api", None),  # machine-opened: nobody to ask
    ],
)
def test_template_rule_table(trigger: str, tier: str, channel: str, expected: str | None) -> None:
    chosen = choose_template(trigger, tier, channel)  # type: ignore[arg-type]
    assert (chosen.id if chosen else None) == expected


def test_first_matching_rule_wins() -> None:
    rules = (
        Rule("visit_checked_out", "*", "web", None),
        Rule("visit_checked_out", "*", "*", "post_visit"),
    )
    assert choose_template("visit_checked_out", "gold", "web", rules) is None
    assert choose_template("visit_checked_out", "gold", "phone", rules) == POST_VISIT
    assert choose_template("ticket_resolved", "gold", "phone", rules) is None  # no row matches


def test_form_strings_and_json_values_both_parse() -> None:
    form = {
        "csat": "4",
        "solved": "no",
        "reasons": ["late", "part_missing"],
        "comment": "  Tea\r\nthanks\t! ",
        "token": "abc",
    }
    a = parse_answer(form, POST_VISIT)
    assert a == Answer(
        csat=4, solved=False, reasons=frozenset({"late", "part_missing"}), comment="Tea\nthanks\t!"
    )
    j = parse_answer({"csat": 5, "nps": 9, "solved": True, "reasons": "late, other"}, CONTRACT)
    assert (j.csat, j.nps, j.solved, j.reasons) == (5, 9, True, frozenset({"late", "other"}))
    # A question the template does not ask is ignored, not stored.
    assert parse_answer({"csat": 3, "ces": 7}, POST_VISIT).ces is None


@pytest.mark.parametrize("bad", ["4.5", 4.5, 0, 6, "five", True, "", None, [4]])
def test_rating_errors_name_the_field(bad: object) -> None:
    with pytest.raises(InvalidAnswer) as exc:
        parse_answer({"csat": bad}, POST_VISIT)
    (err,) = exc.value.errors
    assert err.field == "csat"
    if bad in ("", None):
        assert err.message == "Rating is required: please choose one"
    else:
        assert err.message == "Rating must be a whole number from 1 to 5"


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidAnswer) as exc:
        parse_answer({"csat": "3", "nps": "11", "solved": "maybe", "reasons": ["late", "rude"]}, CONTRACT)
    messages = {e.field: e.message for e in exc.value.errors}
    assert messages == {
        "nps": "Recommendation score must be a whole number from 0 to 10",
        "solved": "Solved: please answer yes or no",
        "reasons": "Reasons: “rude” is not one of the choices",
    }


@pytest.mark.parametrize("text", ["nul\x00byte", "bell\x07", "escape\x1b[31m", "del\x7f", "c1\x9b31m"])
def test_comment_refuses_control_characters(text: str) -> None:
    with pytest.raises(InvalidAnswer) as exc:
        parse_answer({"csat": 4, "comment": text}, POST_VISIT)
    assert exc.value.errors[0].message == "Comment contains characters that cannot be stored"


def test_comment_length_is_bounded() -> None:
    assert len(parse_answer({"csat": 4, "comment": "x" * COMMENT_MAX_CHARS}, POST_VISIT).comment) == 2000
    with pytest.raises(InvalidAnswer) as exc:
        parse_answer({"csat": 4, "comment": "x" * (COMMENT_MAX_CHARS + 1)}, POST_VISIT)
    assert exc.value.errors[0].message == "Comment is too long: at most 2000 characters, got 2001"


@pytest.mark.parametrize(
    ("answer", "detractor"),
    [
        (Answer(csat=3, nps=7, solved=True), False),
        (Answer(nps=6), True),  # NPS ≤ 6
        (Answer(csat=2), True),  # CSAT ≤ 2
        (Answer(csat=5, nps=10, solved=False), True),  # "not solved" wins over good scores
        (Answer(csat=3), False),
        (Answer(), False),
    ],
)
def test_detractor_rule(answer: Answer, detractor: bool) -> None:
    assert answer.is_detractor is detractor
