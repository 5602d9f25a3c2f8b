"""The dashboard says beside a duration how many tickets were left out of it and why (their
times are inconsistent: tests/insights/test_left_out.py), and says nothing where none were."""

from __future__ import annotations

import re
from datetime import date

from app.insights import aggregates
from app.web.insights import left_out_note
from tests.insights import fixture
from tests.insights.test_left_out import NOW, REASONS, WEEK, with_bad_ticket


def test_the_dashboard_card_says_how_many_were_left_out_and_why(client, sign_in, db):
    with_bad_ticket(db, fixture.build(db))
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    sign_in("manager")
    page = client.get("/insights", params=WEEK)
    assert page.status_code == 200, page.text
    card_of = dict(
        re.findall(r'<li class="card kpi-card" data-metric="([a-z_]+)">(.*?)</li>', page.text, re.S)
    )
    for name, reason in REASONS.items():
        assert f"1 ticket left out: {reason}" in card_of[name], name
    assert "left out" not in card_of["csat"]
    assert "left out" not in card_of["first_contact_resolution"]


def test_the_note_reads_as_words():
    assert left_out_note(2, "resolved before opened") == "2 tickets left out: resolved before opened"
    assert left_out_note(1, "arrival before opened") == "1 ticket left out: arrival before opened"
    assert left_out_note(0, "resolved before opened") is None
    assert left_out_note(None, None) is None
