"""Who may see which KPI: managers and admins all, dispatchers the operational ones, others none."""

from __future__ import annotations

import pytest

from app.insights.metrics import METRICS, OPERATIONAL

ROUTES = ("/api/v1/kpis", "/api/v1/kpis.csv", "/api/v1/kpis/drill")
WEEK = {"from": "2026-03-09", "to": "2026-03-15"}


@pytest.mark.parametrize("role", ["agent", "engineer"])
@pytest.mark.parametrize("route", ROUTES)
def test_agents_and_engineers_get_403_everywhere(client, login, role, route):
    r = client.get(route, params={**WEEK, "metric": "backlog"}, headers=login(role))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("route", ROUTES)
def test_signed_out_gets_401(client, route):
    assert client.get(route, params={**WEEK, "metric": "backlog"}).status_code == 401


def test_operational_metrics_are_backlog_arrival_and_risk():
    assert set(OPERATIONAL) == {"backlog", "on_time_arrival", "sla_arrival", "sla_at_risk"}


@pytest.mark.parametrize("route", ROUTES)
def test_dispatchers_see_only_the_operational_ones(client, login, route):
    h = login("dispatcher")
    for name in METRICS:
        r = client.get(route, params={**WEEK, "metric": name}, headers=h)
        assert r.status_code == (200 if name in OPERATIONAL else 403), (name, r.text)


def test_dispatchers_default_to_their_metrics(client, login):
    r = client.get("/api/v1/kpis", params=WEEK, headers=login("dispatcher"))
    assert [m["metric"] for m in r.json()["metrics"]] == list(OPERATIONAL)


@pytest.mark.parametrize("role", ["manager", "admin"])
@pytest.mark.parametrize("route", ROUTES)
def test_managers_and_admins_see_everything(client, login, role, route):
    h = login(role)
    for name in METRICS:
        assert client.get(route, params={**WEEK, "metric": name}, headers=h).status_code == 200, name
