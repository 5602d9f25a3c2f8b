"""The KPI CSV export (the dashboard's "Download CSV") names groups by what people typed: an
engineer called `=HYPERLINK(...)` was written as typed, and Excel ran it as a formula. Text cells
that start a formula now start with `'`; the figures stay numbers (a negative NPS too)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy.orm import Session

from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15", "period": "week"}
FORMULA = '=HYPERLINK("http://x","hi")'


@pytest.fixture
def world(db: Session) -> fixture.World:
    w = fixture.build(db)
    w.e1.name = FORMULA
    db.commit()
    return w


@pytest.mark.parametrize("route,extra", [("/api/v1/kpis.csv", {}), ("/api/v1/kpis", {"format": "csv"})])
def test_an_engineer_named_like_a_formula_is_text_in_the_kpi_csv(
    client, login, world: fixture.World, route: str, extra: dict[str, str]
) -> None:
    params = {**WEEK, "metric": "csat,nps", "group_by": "engineer", **extra}
    r = client.get(route, params=params, headers=login("manager"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    mine = {row["metric"]: row for row in rows if row["group"] == str(world.e1.id)}
    assert {row["group_name"] for row in mine.values()} == {"'" + FORMULA}
    # the figure of the same row is still a number: e1's NPS is -100 (tests/insights/test_kpis_api.py)
    assert float(mine["nps"]["value"]) == -100.0 and mine["nps"]["value"] == "-100.0"
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())
