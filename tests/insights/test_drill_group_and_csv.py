"""A drill-down's `group` names one group of `group_by`; the CSV tells the overall rows from the
"(none)" group and names each group; a refusal by role names the KPIs as the cards do."""

from __future__ import annotations

import csv
import io

import pytest

from app.insights.metrics import METRICS
from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}


@pytest.fixture
def world(db):
    return fixture.build(db)


def test_a_group_without_group_by_is_refused_naming_group(client, login, world):
    """It was ignored: the whole figure's list came back, which the page headed "in group …"."""
    r = client.get(
        "/api/v1/kpis/drill", params={**WEEK, "metric": "csat", "group": "BER"}, headers=login("manager")
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["group"]
    assert "group_by" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("group_by", "group", "named"),
    [("region", "NOPE", "NOPE"), ("engineer", "999999", "999999"), ("product_model", "X-1", "X-1")],
)
def test_a_group_that_names_nothing_is_refused_naming_it(client, login, world, group_by, group, named):
    """It answered 200 with 0 items, as if the group were quiet; a filter naming nothing is a 422."""
    params = {**WEEK, "metric": "csat", "group_by": group_by, "group": group}
    r = client.get("/api/v1/kpis/drill", params=params, headers=login("manager"))
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert error["field"] == "group" and named in error["message"], error


def test_a_real_group_and_the_none_group_still_list_their_items(client, login, world):
    h = login("manager")
    grouped = client.get(
        "/api/v1/kpis", params={**WEEK, "metric": "csat", "group_by": "engineer"}, headers=h
    ).json()
    groups = grouped["metrics"][0]["groups"]
    assert "" in {g["key"] for g in groups} and len(groups) > 1
    for g in groups:
        params = {**WEEK, "metric": "csat", "group_by": "engineer", "group": g["key"]}
        r = client.get("/api/v1/kpis/drill", params=params, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["n"] == g["total"]["n"], g


def test_the_csv_tells_the_overall_rows_from_the_none_group_and_names_the_groups(client, login, world):
    """Both had group "" and period "total": the overall CSAT and the answers without an engineer."""
    h = login("manager")
    params = {**WEEK, "metric": "csat", "group_by": "engineer"}
    api = client.get("/api/v1/kpis", params=params, headers=h).json()["metrics"][0]
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/kpis.csv", params=params, headers=h).text)))
    totals = [r for r in rows if r["period"] == "total"]
    by_group = {r["group"]: r for r in totals}
    assert len(by_group) == len(totals)  # no two totals share a group
    assert int(by_group["(all)"]["n"]) == api["total"]["n"]
    assert by_group["(all)"]["group_name"] == "(all)"
    none = next(g for g in api["groups"] if g["key"] == "")
    assert int(by_group["(none)"]["n"]) == none["total"]["n"]
    named = [g for g in api["groups"] if g["key"]]
    assert named
    for g in named:
        assert g["key"].isdecimal() and by_group[g["key"]]["group_name"] == g["label"] != g["key"]
        assert int(by_group[g["key"]]["n"]) == g["total"]["n"]
    assert {r["group"] for r in rows if r["period"] != "total"} == {"(all)"}  # the series is overall


def test_a_refused_metric_is_named_as_the_cards_name_it(client, login, world):
    r = client.get("/api/v1/kpis/drill", params={**WEEK, "metric": "csat"}, headers=login("dispatcher"))
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert METRICS["csat"].label in detail and METRICS["sla_arrival"].label in detail, detail
    assert "sla_arrival" not in detail and " csat" not in detail
    (error,) = r.json()["errors"]  # the ids stay, for clients
    assert error["field"] == "metric" and "csat" in error["message"] and "sla_arrival" in error["message"]
