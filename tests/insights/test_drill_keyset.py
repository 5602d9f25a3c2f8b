"""Drill-down pages read by keyset (app/insights/drill.py) list exactly the items the in-memory
path lists, in the same order, for every keyset metric, with a filter and with a group; `n` is
kpi_day's figure; a cursor that is not one is a 422 naming `after`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from app.insights import aggregates, drill, service
from app.insights.records import Filters
from tests.insights import fixture

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
WINDOW = service.Query(("csat",), "week", date(2026, 3, 2), date(2026, 3, 22), as_of=NOW)


@pytest.fixture
def world(db):
    w = fixture.build(db)
    aggregates.refresh(db, now=NOW, build_from=date(2026, 1, 1))
    return w


def walk(db, query: service.Query, group: str | None, limit: int) -> tuple[int, list[dict], bool]:
    """Every page of the list, one after the other, following the cursor."""
    body = drill.drill(db, query, group_value=group, offset=0, limit=limit)
    n, items, keyset = body["n"], list(body["items"]), body["keyset"]
    while body["next_after"] is not None:
        assert len(body["items"]) == limit
        body = drill.drill(db, query, group_value=group, offset=0, limit=limit, after=body["next_after"])
        items += body["items"]
    return n, items, keyset


def in_memory(db, query: service.Query, group: str | None, monkeypatch) -> dict:
    with monkeypatch.context() as m:
        m.setattr(drill, "_keyset_n", lambda *a, **k: None)
        return drill.drill(db, query, group_value=group, offset=0, limit=500)


CASES = [
    (Filters(), None, None),
    (Filters(region="BER"), None, None),
    (Filters(channel="phone"), None, None),
    (Filters(), "region", "NYC"),
    (Filters(), "channel", "phone"),
]


@pytest.mark.parametrize("filters,group_by,group", CASES)
@pytest.mark.parametrize("name", sorted(drill.KEYSET))
def test_keyset_pages_equal_the_in_memory_list(db, world, monkeypatch, name, filters, group_by, group):
    query = replace(WINDOW, metrics=(name,), filters=filters, group_by=group_by)
    expected = in_memory(db, query, group, monkeypatch)
    for limit in (1, 2, 50):
        n, items, keyset = walk(db, query, group, limit)
        assert keyset
        assert items == expected["items"], (name, limit)
        assert n == expected["n"] == len(items)


def test_the_fixture_lists_are_not_empty(db, world):
    """The comparison above says something: most keyset lists have several items."""
    sizes = {name: walk(db, replace(WINDOW, metrics=(name,)), None, 2)[0] for name in drill.KEYSET}
    assert sum(1 for n in sizes.values() if n >= 2) >= 5, sizes


def test_other_metrics_and_offsets_use_the_rows_in_memory(db, world):
    body = drill.drill(db, replace(WINDOW, metrics=("on_time_arrival",)), group_value=None, offset=0, limit=2)
    assert body["keyset"] is False
    body = drill.drill(db, replace(WINDOW, metrics=("time_to_resolve",)), group_value=None, offset=1, limit=1)
    assert body["keyset"] is False and body["n"] >= 2


def test_a_bad_cursor_is_a_422_naming_after(client, login, world):
    r = client.get(
        "/api/v1/kpis/drill",
        params={"from": "2026-03-02", "to": "2026-03-22", "metric": "csat", "after": "yesterday"},
        headers=login("manager"),
    )
    assert r.status_code == 422, r.text
    assert "after" in {e["field"] for e in r.json()["errors"]}
