"""GET /api/v1/kpis/drivers: the effects of tests/insights/drivers_fixture.py, computed by hand.

Welch's interval at equal n and equal variances has integer degrees of freedom, so `late` (three
answers each side, both with variance 1) checks against the t table: t(0.975, 4) = 2.776445.
"""

from __future__ import annotations

import csv
import io
import math

import pytest

from app.insights import drivers
from surveys.stats import t_quantile
from tests.insights import drivers_fixture

BER_WEEK = {"from": "2026-03-09", "to": "2026-03-15", "region": "BER"}
ROUTES = ("/api/v1/kpis/drivers", "/api/v1/kpis/drivers.csv", "/api/v1/kpis/drivers/drill")
DRILL = {"fact": "late", "side": "with"}


@pytest.fixture
def world(db):
    return drivers_fixture.build(db)


def _get(client, login, params, route="/api/v1/kpis/drivers", role="manager"):
    r = client.get(route, params=params, headers=login(role))
    assert r.status_code == 200, r.text
    return r


def test_effects_by_hand(client, login, world):
    body = _get(client, login, BER_WEEK).json()
    # S1 and S3 of the base fixture (no facts) and A1–A6; not the NPS-only one, not Monday 00:30
    assert body["n"] == 8
    facts = {f["fact"]: f for f in body["facts"]}

    late = facts["late"]
    assert (late["mean_with"], late["n_with"], late["mean_without"], late["n_without"]) == (2.0, 3, 4.0, 3)
    assert late["difference"] == pytest.approx(-2.0)
    half = 2.776445 * math.sqrt(1 / 3 + 1 / 3)  # t(0.975, 4) · se, se² = 1/3 + 1/3
    assert late["ci_low"] == pytest.approx(-2.0 - half, abs=1e-5)
    assert late["ci_high"] == pytest.approx(-2.0 + half, abs=1e-5)
    assert late["label"] == "Arrived after the promised window"

    repeat = facts["repeat_visit"]  # one answer with it: a difference, no interval
    assert (repeat["mean_with"], repeat["n_with"], repeat["mean_without"], repeat["n_without"]) == (
        1.0, 1, 3.0, 3,
    )  # fmt: skip
    assert repeat["difference"] == pytest.approx(-2.0)
    assert (repeat["ci_low"], repeat["ci_high"]) == (None, None)

    sla = facts["sla_breach"]  # with: 1, 3 (var 2); without: 2, 3, 4, 5 (var 5/3)
    assert (sla["mean_with"], sla["n_with"], sla["mean_without"], sla["n_without"]) == (2.0, 2, 3.5, 4)
    se2 = 2 / 2 + (5 / 3) / 4
    df = se2**2 / ((2 / 2) ** 2 / 1 + ((5 / 3) / 4) ** 2 / 3)
    half = t_quantile(0.975, df) * math.sqrt(se2)
    assert df == pytest.approx(1.897, abs=1e-3)
    assert (sla["ci_low"], sla["ci_high"]) == (pytest.approx(-1.5 - half), pytest.approx(-1.5 + half))

    ftf = facts["first_time_fix"]
    assert (ftf["mean_with"], ftf["n_with"], ftf["mean_without"], ftf["n_without"]) == (4.5, 2, 3.0, 1)
    assert ftf["difference"] == pytest.approx(1.5)

    part = facts["part_missing"]  # never true: no difference
    assert (part["mean_with"], part["n_with"], part["n_without"], part["difference"]) == (None, 0, 6, None)
    assert facts["duration_overrun"]["n_with"] == facts["duration_overrun"]["n_without"] == 0

    # ranked by |difference|, ties by the smaller side's n; facts without a difference last
    assert [f["fact"] for f in body["facts"]] == [
        "late", "repeat_visit", "sla_breach", "first_time_fix", "duration_overrun", "part_missing",
    ]  # fmt: skip


def test_each_fact_says_whether_its_interval_leaves_the_sign_open(client, login, world):
    """`uncertain`: the 95 % interval spans 0 or there is none; the page draws such bars lighter."""
    facts = {f["fact"]: f for f in _get(client, login, BER_WEEK).json()["facts"]}
    assert {k: f["uncertain"] for k, f in facts.items()} == {
        "late": True,  # -4.27 to +0.27
        "sla_breach": True,  # a wide interval across 0
        "repeat_visit": True,  # one answer with it: no interval
        "first_time_fix": True,  # one answer without it: no interval
        "part_missing": True,  # no difference at all
        "duration_overrun": True,
    }


@pytest.mark.parametrize(
    ("low", "high", "uncertain"),
    [
        (-4.27, 0.27, True),
        (0.0, 1.0, True),
        (-1.0, 0.0, True),
        (None, None, True),
        (0.4, 2.1, False),
        (-3.0, -0.01, False),
    ],
)
def test_uncertain_means_the_interval_touches_zero_or_is_missing(
    low: float | None, high: float | None, uncertain: bool
) -> None:
    assert drivers.uncertain(low, high) is uncertain


def test_filters_change_the_sample(client, login, world):
    everywhere = _get(client, login, {"from": "2026-03-09", "to": "2026-03-15"}).json()
    late = next(f for f in everywhere["facts"] if f["fact"] == "late")
    # the New York late visit rated 5 joins the "with" side; S2 (New York, no facts) joins n
    assert (late["n_with"], late["mean_with"], everywhere["n"]) == (4, 2.75, 10)
    next_week = _get(client, login, {"from": "2026-03-16", "to": "2026-03-22", "region": "BER"}).json()
    late = next(f for f in next_week["facts"] if f["fact"] == "late")
    assert (next_week["n"], late["n_with"], late["mean_with"]) == (1, 1, 1.0)  # Mon 00:30 Berlin


def test_drill_lists_each_side(client, login, world):
    body = _get(client, login, {**BER_WEEK, **DRILL}, "/api/v1/kpis/drivers/drill").json()
    assert body["n"] == 3
    assert [i["csat"] for i in body["items"]] == [1, 2, 3]
    assert [i["id"] for i in body["items"]] == [world.answers[k].id for k in ("A1", "A2", "A3")]
    assert all(i["kind"] == "answer" and i["late"] is True for i in body["items"])
    without = _get(client, login, {**BER_WEEK, "fact": "sla_breach", "side": "without", "limit": 3},
                   "/api/v1/kpis/drivers/drill").json()  # fmt: skip
    assert (without["n"], len(without["items"]), without["next_offset"]) == (4, 3, 3)
    assert [i["csat"] for i in without["items"]] == [2, 3, 4]


def test_drill_n_equals_each_sides_n(client, login, world):
    facts = _get(client, login, BER_WEEK).json()["facts"]
    for f in facts:
        for side in ("with", "without"):
            body = _get(client, login, {**BER_WEEK, "fact": f["fact"], "side": side},
                        "/api/v1/kpis/drivers/drill").json()  # fmt: skip
            assert body["n"] == f[f"n_{side}"], (f["fact"], side)


def test_csv_export(client, login, world):
    text = _get(client, login, BER_WEEK, "/api/v1/kpis/drivers.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    body = _get(client, login, BER_WEEK).json()
    assert [r["fact"] for r in rows] == [f["fact"] for f in body["facts"]]
    late = rows[0]
    assert (float(late["mean_with"]), int(late["n_with"]), float(late["difference"])) == (2.0, 3, -2.0)
    same = _get(client, login, {**BER_WEEK, "format": "csv"})
    assert same.headers["content-type"].startswith("text/csv")
    assert same.text == text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({**BER_WEEK, "fact": "weather", "side": "with"}, "fact"),
        ({**BER_WEEK, "fact": "late", "side": "maybe"}, "side"),
        ({"from": "2026-03-15", "to": "2026-03-09", **DRILL}, "to"),
    ],
)
def test_bad_drill_is_422_naming_the_field(client, login, world, params, field):
    r = client.get("/api/v1/kpis/drivers/drill", params=params, headers=login("manager"))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in r.json()["errors"]]


@pytest.mark.parametrize("role", ["agent", "engineer", "dispatcher"])
@pytest.mark.parametrize("route", ROUTES)
def test_only_managers_and_admins(client, login, role, route):
    r = client.get(route, params={**BER_WEEK, **DRILL}, headers=login(role))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("role", ["manager", "admin"])
@pytest.mark.parametrize("route", ROUTES)
def test_managers_and_admins_may(client, login, world, role, route):  # world: BER exists
    assert client.get(route, params={**BER_WEEK, **DRILL}, headers=login(role)).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_signed_out_gets_401(client, route):
    assert client.get(route, params={**BER_WEEK, **DRILL}).status_code == 401
