"""The KPI dashboard refused: each select keeps what was typed (as region=XX shows "XX (unknown)"),
an unknown metric is named with the KPIs' labels at the top, and the renewal list writes dates as
every other page does."""

from __future__ import annotations

import re
from datetime import timedelta

from app.insights.api import local_today
from app.insights.metrics import METRICS, OPERATIONAL
from app.web.shared import fmt_date
from tests import factories as f


def _selected(page: str, name: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select id="f-[a-z_]+" name="{name}".*?</select>', page, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)" selected>([^<]*)</option>', select.group(0))


def test_an_unknown_period_and_grouping_stay_in_their_selects(client, sign_in):
    sign_in("manager")
    r = client.get("/insights", params={"group_by": "foo", "period": "year"})
    assert r.status_code == 422
    assert _selected(r.text, "period") == [("year", "year (unknown)")]
    assert _selected(r.text, "group_by") == [("foo", "foo (unknown)")]
    assert 'id="f-period" name="period" aria-invalid="true"' in r.text
    # a good choice is still selected as before
    r = client.get("/insights", params={"group_by": "foo", "period": "month"})
    assert _selected(r.text, "period") == [("month", "month")]


def test_an_unknown_metric_is_named_with_the_kpi_labels_at_the_top(client, sign_in):
    sign_in("manager")
    r = client.get("/insights", params={"metric": "bogus"})
    assert r.status_code == 422
    top = re.search(r'<div class="alert" role="alert" id="filter-errors">(.*?)</div>', r.text, re.S)
    assert top
    text = top.group(1)
    assert "“bogus” is not a KPI of this dashboard" in text
    assert all(m.label in text for m in METRICS.values())
    assert "first_response_time" not in text and "repeat_visit_rate" not in text  # no codes
    sign_in("dispatcher")  # only what the role may see
    text = client.get("/insights", params={"metric": "bogus"}).text
    hidden = [m.label for k, m in METRICS.items() if k not in OPERATIONAL]
    assert hidden and not any(f"{label}," in text or f"{label}." in text for label in hidden)


def test_renewal_dates_use_the_pages_date_format(client, sign_in, db):
    renewal = local_today() + timedelta(days=30)
    acc = f.make_account(db, name="Renewing GmbH")
    acc.renewal_date = renewal
    db.commit()
    sign_in("manager")
    page = client.get("/insights").text
    row = re.search(rf'<tr data-account="{acc.id}">(.*?)</tr>', page, re.S)
    assert row, "the account is not in the renewal list"
    assert fmt_date(renewal) in row.group(1) and renewal.isoformat() not in row.group(1)
