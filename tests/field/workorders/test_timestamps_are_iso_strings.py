"""Date-times (and dates, times of day) in the API are ISO 8601 strings, never numbers: pydantic's
lax mode read `-1` (or `"-1"`, `"20261210"`) as seconds since 1970, so a visit window started on
1969-12-31. One rule in `InputModel` (app/platform/inputs.py) refuses them in every input schema,
and `guard_params` in query parameters; ISO strings keep working, naive date-times stay refused."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import AwareDatetime, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import app
from app.models import WorkOrder
from app.platform.inputs import InputModel, _base_types
from tests import factories as f

API = "/api/v1/work-orders"
WITH_ZONE = "an ISO 8601 date-time with a time zone"


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region)
    site = f.make_site(db, acc, region=region)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill="HVAC"))
    w = {
        "eng": f.make_engineer(db, region, skills=["HVAC"], user=f.make_user(db, role="engineer")),
        "ticket": f.open_ticket(db, acc, asset=asset),
        "dispatch": f.bearer(f.make_user(db, role="dispatcher")),
    }
    db.commit()
    return w


def _errors(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["message"] for e in r.json()["errors"]}


def _later(days: int = 8, hour: int = 9) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def test_a_number_is_not_a_window_start(client: TestClient, db: Session, world: dict[str, Any]) -> None:
    ends = _later(hour=12).isoformat().replace("+00:00", "Z")
    for start in (-1, 0, 1.5, "-1", "1700000000", "20261210"):
        body = {"ticket_id": world["ticket"].id, "windows": [{"starts_at": start, "ends_at": ends}]}
        errors = _errors(client.post(API, json=body, headers=world["dispatch"]))
        assert WITH_ZONE in errors["windows.0.starts_at"], (start, errors)
    assert db.scalar(select(func.count()).select_from(WorkOrder)) == 0

    # ISO strings, with Z or an offset, still work; a naive one is still refused (no time zone).
    ok = {"starts_at": _later(hour=8).isoformat(), "ends_at": ends}
    r = client.post(API, json={"ticket_id": world["ticket"].id, "windows": [ok]}, headers=world["dispatch"])
    assert r.status_code == 201, r.text
    assert r.json()["windows"][0]["starts_at"].startswith(_later(hour=8).date().isoformat())
    naive = {"starts_at": _later(hour=8).replace(tzinfo=None).isoformat(), "ends_at": ends}
    errors = _errors(
        client.post(
            API, json={"ticket_id": world["ticket"].id, "windows": [naive]}, headers=world["dispatch"]
        )
    )
    assert "timezone" in errors["windows.0.starts_at"]


def test_a_number_is_not_an_eta_or_a_planned_start(client: TestClient, world: dict[str, Any]) -> None:
    h = world["dispatch"]
    created = client.post(API, json={"ticket_id": world["ticket"].id}, headers=h)
    assert created.status_code == 201, created.text
    url = f"{API}/{created.json()['id']}"
    etag = {"If-Match": client.get(url, headers=h).headers["ETag"]}

    assert WITH_ZONE in _errors(client.patch(url, json={"eta_at": -1}, headers={**h, **etag}))["eta_at"]
    for field in ("appointment_start_at", "appointment_end_at"):
        assert WITH_ZONE in _errors(client.patch(url, json={field: 1700000000}, headers={**h, **etag}))[field]

    start = _later().isoformat()
    schedule = f"{url}/schedule"
    engineer = world["eng"].id
    errors = _errors(
        client.post(
            schedule, json={"engineer_id": engineer, "planned_start": start, "eta": -1}, headers={**h, **etag}
        )
    )
    assert WITH_ZONE in errors["eta"]
    errors = _errors(
        client.post(schedule, json={"engineer_id": engineer, "planned_start": "-1"}, headers={**h, **etag})
    )
    assert WITH_ZONE in errors["planned_start"]
    assert client.get(url, headers=h).json()["status"] == "unscheduled"  # nothing was half-applied

    r = client.post(
        schedule, json={"engineer_id": engineer, "planned_start": start, "eta": start}, headers={**h, **etag}
    )
    assert r.status_code == 200, r.text
    etag = {"If-Match": r.headers["ETag"]}
    r = client.patch(url, json={"eta_at": _later(hour=10).isoformat()}, headers={**h, **etag})
    assert r.status_code == 200, r.text
    assert r.json()["eta_at"].startswith(_later(hour=10).strftime("%Y-%m-%dT10:00:00"))


def _input_models() -> list[type[InputModel]]:
    for mod in pkgutil.walk_packages(app.__path__, "app."):
        if mod.name.endswith(("schemas", "api")):
            importlib.import_module(mod.name)
    found: list[type[InputModel]] = []
    todo = list(InputModel.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_input_schema_refuses_a_number_for_a_date_time_a_date_or_a_time() -> None:
    checked = []
    for model in _input_models():
        for name, field in model.model_fields.items():
            if not _base_types(field.annotation) & {datetime, AwareDatetime, date, time}:
                continue
            for number in (-1, "-1"):
                with pytest.raises(ValidationError) as caught:
                    model.model_validate({name: number})
                mine = [e for e in caught.value.errors() if e["loc"][:1] == (field.alias or name,)]
                assert mine and "not a number" in mine[0]["msg"], (model, name, caught.value)
            checked.append(f"{model.__name__}.{name}")
    # the schemas this was found in, and the other kinds of time the same rule covers
    assert {"WindowIn.starts_at", "WorkOrderUpdate.eta_at", "ScheduleIn.eta"} <= set(checked)
    assert {"OnCallIn.starts_at", "PositionIn.at", "AbsenceIn.day", "ShiftIn.starts"} <= set(checked)


def test_a_number_is_not_a_date_time_in_a_query_either(client: TestClient, db: Session, login: Any) -> None:
    h = login("dispatcher")
    engineer = f.make_engineer(db, f.make_region(db))
    db.commit()
    url = f"/api/v1/engineers/{engineer.id}/on-call"
    assert "ISO 8601 date-time" in _errors(client.get(url, params={"from": "-1"}, headers=h))["from"]
    assert client.get(url, params={"from": "2026-12-10T08:00:00Z"}, headers=h).status_code == 200
    tickets = "/api/v1/tickets"
    assert (
        "ISO 8601"
        in _errors(client.get(tickets, params={"sla_due_before": "1700000000"}, headers=h))["sla_due_before"]
    )
    assert (
        client.get(tickets, params={"sla_due_before": "2026-12-10T08:00:00+01:00"}, headers=h).status_code
        == 200
    )
