"""Every KPI of /api/v1/kpis against the hand-computed history of tests/insights/fixture.py.

The expected numbers are worked out in the comments from the fixture's times, not read back from
the code: quantiles are type 7 (h = (n − 1)·q), business time is the Mon–Fri 08–12, 13–17 Berlin
calendar.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}


@pytest.fixture
def world(db):
    return fixture.build(db)


def get(client, headers, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/kpis", params={**WEEK, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return {m["metric"]: m for m in r.json()["metrics"]}


def total(result: dict[str, Any], metric: str) -> dict[str, Any]:
    return result[metric]["total"]


def test_durations_calendar_time(client, login, world):
    r = get(client, login("manager"), metric="first_response_time,time_to_arrive,time_to_resolve")
    # first response: T1 Fri 15:00 → Mon 08:00 = 3900 min, T2 30 min, T4 60 min
    # sorted 30, 60, 3900: median 60, p90 h = 1.8 → 60 + 0.8·3840 = 3132
    assert (total(r, "first_response_time")["value"], total(r, "first_response_time")["n"]) == (60.0, 3)
    assert total(r, "first_response_time")["p90"] == pytest.approx(3132.0)
    # arrival: T2 25.5 h = 1530, T3 7.5 h = 450 (23:30 New York local on Sunday: week 11), T5 26 h = 1560
    assert (total(r, "time_to_arrive")["value"], total(r, "time_to_arrive")["n"]) == (1530.0, 3)
    assert total(r, "time_to_arrive")["p90"] == pytest.approx(1530 + 0.8 * 30)
    # resolve: T1 67 h = 4020, T2 51 h = 3060, T4 (final resolution) 49 h = 2940; T3 resolved in week 12
    assert (total(r, "time_to_resolve")["value"], total(r, "time_to_resolve")["n"]) == (3060.0, 3)
    assert total(r, "time_to_resolve")["p90"] == pytest.approx(3060 + 0.8 * 960)
    assert total(r, "time_to_resolve")["previous"]["n"] == 0
    assert total(r, "time_to_resolve")["previous"]["value"] is None


def test_durations_business_time_over_a_weekend(client, login, world):
    r = get(
        client, login("manager"), metric="first_response_time,time_to_arrive,time_to_resolve", time="business"
    )
    # T1: Fri 16:00–17:00 local (60) + Mon 08:00–09:00 (60) = 120 over a weekend of 65 h; T2 30; T4 60
    frt = total(r, "first_response_time")
    assert (frt["value"], frt["n"], frt["p90"]) == (60.0, 3, pytest.approx(60 + 0.8 * 60))
    # T2 Mon 08:30 → Tue 10:00 local: 210 + 240 + 120 = 570; T3 Sun/Mon night: 0; T5 Thu 480 + Fri 120 = 600
    tta = total(r, "time_to_arrive")
    assert (tta["value"], tta["p90"]) == (570.0, pytest.approx(570 + 0.8 * 30))
    # T1 60 + 180 = 240; T2 450 + 480 + 210 = 1140; T4 Tue 480 + Wed 480 + Thu 60 = 1020
    ttr = total(r, "time_to_resolve")
    assert (ttr["value"], ttr["p90"]) == (1020.0, pytest.approx(1020 + 0.8 * 120))
    assert r["time_to_resolve"]["time"] == "business"


def test_ticket_rates_and_sla(client, login, world):
    r = get(client, login("manager"))
    # resolved in week 11: T1 (one call, no visit: FCR), T2 (visits), T4 (reopened)
    assert (total(r, "first_contact_resolution")["value"], total(r, "first_contact_resolution")["n"]) == (
        pytest.approx(100 / 3),
        3,
    )
    assert (total(r, "reopen_rate")["value"], total(r, "reopen_rate")["n"]) == (pytest.approx(100 / 3), 3)
    # first response clocks: T1 breached, T2 met, T3 running past due (breached) → 1/3
    assert (total(r, "sla_first_response")["value"], total(r, "sla_first_response")["n"]) == (
        pytest.approx(100 / 3),
        3,
    )
    # arrival: T2 breached, T3 met at 23:30 local Sunday → 1/2
    assert (total(r, "sla_arrival")["value"], total(r, "sla_arrival")["n"]) == (50.0, 2)
    assert (total(r, "sla_resolution")["value"], total(r, "sla_resolution")["n"]) == (100.0, 2)
    # Wilson interval for 1/2 at 95 %: 9.45 % … 90.55 %
    assert total(r, "sla_arrival")["ci_low"] == pytest.approx(9.4531, abs=1e-3)


def test_visit_metrics(client, login, world):
    r = get(client, login("manager"))
    # promised windows: W2a on time, W2b late, W3 on time (New York night); W5 had none
    assert (total(r, "on_time_arrival")["value"], total(r, "on_time_arrival")["n"]) == (
        pytest.approx(200 / 3),
        3,
    )
    # arrived: W2a, W2b, W3, W5; W5 came back to asset A 2 days after W2b fixed it
    assert (total(r, "repeat_visit_rate")["value"], total(r, "repeat_visit_rate")["n"]) == (25.0, 4)
    # jobs completed: T2 (second visit: not first time), T3 and T5 (first visit, no return) → 2/3
    assert (total(r, "first_time_fix")["value"], total(r, "first_time_fix")["n"]) == (
        pytest.approx(200 / 3),
        3,
    )


def test_engineer_days_and_backlog(client, login, world):
    r = get(client, login("manager"))
    # 10 engineer-days of 510 min minus E2's absence = 9; on site: E1 3 × 60 = 180 (E2's 20 min fell
    # on a Sunday, no shift) → 180 / 4590
    util = total(r, "utilisation")
    assert (util["value"], util["n"]) == (pytest.approx(100 * 180 / 4590), 9)
    assert (util["previous"]["value"], util["previous"]["n"]) == (0.0, 10)
    # no published plan covered these days: travel is unknown, not zero
    assert (total(r, "travel_share")["value"], total(r, "travel_share")["n"]) == (None, 0)
    # open at the end of week 11 (Mon 16 Mar 00:00 Berlin = Sun 23:00 UTC): T3 (3 h old), T5 (3 d 16 h)
    backlog = total(r, "backlog")
    assert (backlog["value"], backlog["buckets"]["<1 d"], backlog["buckets"]["3–7 d"]) == (2, 1, 1)
    assert backlog["median_age_days"] == pytest.approx((0.125 + 3 + 16 / 24) / 2)
    # end of week 10: only T1 (opened Fri 15:00 UTC), 2 d 8 h old
    assert (backlog["previous"]["value"], backlog["previous"]["oldest_age_days"]) == (
        1,
        pytest.approx(2 + 8 / 24),
    )
    assert (total(r, "sla_at_risk")["value"], total(r, "sla_at_risk")["n"]) == (1, 1)


def test_survey_metrics(client, login, world):
    r = get(client, login("manager"), metric="csat,nps,ces,response_rate")
    # answered in week 11: S1 (2, 3, 3), S2 (5, 10, 7; Sunday 23:45 in New York), S3 (4, 8, –)
    assert (total(r, "csat")["value"], total(r, "csat")["n"]) == (pytest.approx(200 / 3), 3)
    # promoters 1 (10), detractors 1 (3), passive 1 (8): 0 points
    assert (total(r, "nps")["value"], total(r, "nps")["n"], total(r, "nps")["unit"]) == (0.0, 3, "points")
    assert (total(r, "ces")["value"], total(r, "ces")["n"]) == (5.0, 2)
    # sent in week 11: S1, S2 (Sunday 19:00 local), S3, S4; answered S1–S3; S5 never sent
    assert (total(r, "response_rate")["value"], total(r, "response_rate")["n"]) == (75.0, 4)
    r = get(
        client,
        login("manager"),
        metric="csat",
        region="NYC",
        period="day",
        **{"from": "2026-03-15", "to": "2026-03-16"},
    )
    assert [(p["period"], p["n"]) for p in r["csat"]["series"]] == [("2026-03-15", 1), ("2026-03-16", 0)]
    r = get(client, login("manager"), metric="csat,nps", group_by="engineer")
    by_engineer = {g["key"]: g["total"] for g in r["nps"]["groups"]}
    assert by_engineer[str(world.e1.id)]["value"] == -100.0 and by_engineer[""]["n"] == 1


def test_the_2330_local_visit_counts_on_its_local_day(client, login, world):
    # W3 arrived Mon 16 Mar 03:30 UTC, which is Sun 15 Mar 23:30 in New York: week 11, not 12.
    h = login("manager")
    r = get(
        client,
        h,
        metric="on_time_arrival",
        region="NYC",
        period="day",
        **{"from": "2026-03-15", "to": "2026-03-16"},
    )
    series = {p["period"]: p["n"] for p in r["on_time_arrival"]["series"]}
    assert series == {"2026-03-15": 1, "2026-03-16": 0}


def test_filters_and_groups(client, login, world):
    h = login("manager")
    r = get(client, h, metric="on_time_arrival,time_to_resolve", group_by="region")
    groups = {g["key"]: g["total"] for g in r["on_time_arrival"]["groups"]}
    assert (groups["BER"]["value"], groups["BER"]["n"]) == (50.0, 2)
    assert (groups["NYC"]["value"], groups["NYC"]["n"]) == (100.0, 1)
    assert {g["label"] for g in r["on_time_arrival"]["groups"]} == {"Berlin", "New York"}
    r = get(client, h, metric="time_to_resolve", channel="phone")
    assert (total(r, "time_to_resolve")["n"], total(r, "time_to_resolve")["value"]) == (
        2,
        pytest.approx(3480.0),
    )
    r = get(client, h, metric="on_time_arrival", engineer=str(world.e1.id))
    assert total(r, "on_time_arrival")["n"] == 2
    r = get(client, h, metric="repeat_visit_rate", product_model="CH-900", tier="gold")
    assert (total(r, "repeat_visit_rate")["value"], total(r, "repeat_visit_rate")["n"]) == (
        pytest.approx(100 / 3),
        3,
    )


def test_bad_parameters_name_the_field(client, login, world):
    h = login("manager")
    for params, field in (
        ({"metric": "nope"}, "metric"),
        ({"group_by": "colour"}, "group_by"),
        ({"from": "2026-03-15", "to": "2026-03-01"}, "to"),
        ({"metric": "utilisation", "channel": "phone"}, "channel"),
        ({"period": "year"}, "period"),
        ({"from": "yesterday"}, "from"),
        ({"time": "office"}, "time"),
        ({"from": "2024-01-01", "to": "2026-03-01"}, "to"),
        # wholly in the future: it showed empty figures as if all were well
        (
            {"from": str(date.today() + timedelta(days=3)), "to": str(date.today() + timedelta(days=9))},
            "from",
        ),
    ):
        r = client.get("/api/v1/kpis", params={**WEEK, **params}, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()


def test_all_metrics_with_a_filter_leave_out_those_it_cannot_slice(client, login, world):
    r = client.get("/api/v1/kpis", params={**WEEK, "channel": "phone"}, headers=login("manager"))
    assert r.status_code == 200
    names = [m["metric"] for m in r.json()["metrics"]]
    assert "utilisation" not in names and "travel_share" not in names and "csat" in names
    by_name = {m["metric"]: m for m in r.json()["metrics"]}
    # phone tickets resolved in week 11: T1 (FCR) and T4 (reopened)
    assert (
        by_name["first_contact_resolution"]["total"]["value"],
        by_name["first_contact_resolution"]["total"]["n"],
    ) == (50.0, 2)


def test_bad_drill_parameters_name_the_field(client, login, world):
    h = login("manager")
    for params, field in (
        ({"metric": "csat,nps"}, "metric"),
        ({"metric": "csat", "offset": "-1"}, "offset"),
        ({"metric": "csat", "limit": "501"}, "limit"),
    ):
        r = client.get("/api/v1/kpis/drill", params={**WEEK, **params}, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, r.json()


def test_csv_export_carries_the_same_figures(client, login, world):
    h = login("manager")
    as_json = get(client, h, metric="on_time_arrival,time_to_resolve", group_by="region")
    for url, extra in (("/api/v1/kpis", {"format": "csv"}), ("/api/v1/kpis.csv", {})):
        r = client.get(
            url,
            params={**WEEK, "metric": "on_time_arrival,time_to_resolve", "group_by": "region", **extra},
            headers=h,
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        totals = {(row["metric"], row["group"], row["period"]): row for row in rows}
        tot = totals[("time_to_resolve", "(all)", "total")]
        assert (float(tot["value"]), int(tot["n"]), float(tot["p90"])) == (
            as_json["time_to_resolve"]["total"]["value"],
            3,
            pytest.approx(as_json["time_to_resolve"]["total"]["p90"]),
        )
        assert int(totals[("on_time_arrival", "NYC", "total")]["n"]) == 1
        assert totals[("on_time_arrival", "NYC", "total")]["group_name"] == "New York"
        assert totals[("on_time_arrival", "(all)", "2026-W11")]["previous_n"] == "0"


def test_drill_down_equals_each_figures_n(client, login, world):
    h = login("manager")
    r = get(client, h)
    for name, result in r.items():
        d = client.get("/api/v1/kpis/drill", params={**WEEK, "metric": name, "limit": 2}, headers=h)
        assert d.status_code == 200, d.text
        body = d.json()
        assert body["n"] == result["total"]["n"], name
        items = body["items"]
        offset = body["next_offset"]
        while offset is not None:
            page = client.get(
                "/api/v1/kpis/drill", params={**WEEK, "metric": name, "limit": 2, "offset": offset}, headers=h
            ).json()
            items += page["items"]
            offset = page["next_offset"]
        assert len(items) == result["total"]["n"], name
    d = client.get("/api/v1/kpis/drill", params={**WEEK, "metric": "repeat_visit_rate"}, headers=h).json()
    assert [i["number"] for i in d["items"] if i["repeat_visit"]] == [world.visits["W5"].number]
    d = client.get(
        "/api/v1/kpis/drill",
        params={**WEEK, "metric": "on_time_arrival", "group_by": "region", "group": "NYC"},
        headers=h,
    ).json()
    assert [i["number"] for i in d["items"]] == [world.visits["W3"].number]


def test_a_filter_value_that_names_nothing_is_refused_naming_the_filter(client, login, world):
    """An engineer key is str(id): "05", "²" (a digit to str.isdigit, not to int), a name or an id
    nobody has; a region, model, tier or channel that does not exist. They answered 200 with every
    card at n = 0, as if it were a quiet region; now a 422 naming the filter, never a 500."""
    h = login("manager")
    real = get(client, h, metric="time_to_resolve,on_time_arrival", engineer=str(world.e1.id))
    assert total(real, "on_time_arrival")["n"] == 2
    for field, text in (
        *(("engineer", t) for t in (f"0{world.e1.id}", "²", "Eva", "-5", "999999", "9" * 40)),
        ("region", "XX"),
        ("product_model", "NOPE-1"),
        ("tier", "diamond"),
        ("channel", "fax"),
    ):
        for url in ("/api/v1/kpis", "/api/v1/kpis/drill", "/api/v1/kpis/drivers"):
            r = client.get(url, params={**WEEK, "metric": "csat", field: text}, headers=h)
            assert r.status_code == 422, (url, field, text, r.text)
            assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    # the "(none)" group's key is a value: records without a region
    assert client.get("/api/v1/kpis", params={**WEEK, "region": ""}, headers=h).status_code == 200


def test_a_series_covers_only_the_window_and_adds_up_to_its_total(client, login, world):
    """A window from a Tuesday: the first weekly point is Tue–Sun, marked partial, compared with the
    Tue–Sun before it; the points' n add up to the total's (whole weeks counted the Monday before)."""
    h = login("manager")
    names = "csat,first_response_time,on_time_arrival,first_contact_resolution"
    whole = get(client, h, metric=names, **{"from": "2026-03-09", "to": "2026-03-22"})
    cut = get(client, h, metric=names, **{"from": "2026-03-10", "to": "2026-03-21"})
    for name, m in cut.items():
        first, last = m["series"][0], m["series"][-1]
        assert (first["start"], first["end"], first["partial"]) == ("2026-03-10", "2026-03-15", True)
        assert (last["start"], last["end"], last["partial"]) == ("2026-03-16", "2026-03-21", True)
        assert sum(p["n"] for p in m["series"]) == m["total"]["n"], name
        assert not any(p["partial"] for p in whole[name]["series"])
        assert sum(p["n"] for p in whole[name]["series"]) == whole[name]["total"]["n"], name
    # something of the cut-off days counts in the whole weeks, so the cut is not a no-op
    assert any(cut[n]["total"]["n"] < whole[n]["total"]["n"] for n in cut)
    r = client.get(
        "/api/v1/kpis",
        params={
            "metric": "csat",
            "period": "week",
            "from": "2026-03-10",
            "to": "2026-03-21",
            "format": "csv",
        },
        headers=h,
    )
    assert ",2026-W11,2026-03-10,2026-03-15," in r.text


def test_groups_come_in_the_order_of_their_names_none_last(client, login, world):
    h = login("manager")
    for key in ("engineer", "region"):
        m = get(client, h, metric="on_time_arrival,csat", group_by=key, **{"to": "2026-03-22"})
        for metric in m.values():
            labels = [g["label"] for g in metric["groups"]]
            named = [x for x in labels if x != "(none)"]
            assert named == sorted(named, key=str.casefold), (key, labels)
            assert "(none)" not in labels or labels[-1] == "(none)"
