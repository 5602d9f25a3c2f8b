"""What a work order takes is what it says: a number is a JSON number (`"90"` was read as 90), a day
is a date (`2026-12-08T00:00:00Z` was cut to a day), and a skill is one planning knows (an unknown
one made a visit no engineer could ever take). Each refusal is a 422 naming the field."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.field.workorders.world import API, create, etag_of


def _fields(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["message"] for e in r.json()["errors"]}


def test_a_number_sent_as_text_is_refused_naming_the_field(client: TestClient, world) -> None:
    w = world
    r = client.post(API, json={"ticket_id": w["ticket"].id, "duration_min": "90"}, headers=w["agent"])
    assert "must be a number, not a string" in _fields(r)["duration_min"]
    parts = [{"part_id": w["part"].id, "quantity": "2"}]
    r = client.post(API, json={"ticket_id": w["ticket"].id, "required_parts": parts}, headers=w["agent"])
    assert "required_parts.0.quantity" in _fields(r)
    wo = create(client, w)
    h = {**w["dispatch"], "If-Match": etag_of(client, w["dispatch"], wo["id"])}
    r = client.patch(f"{API}/{wo['id']}", json={"duration_min": "45"}, headers=h)
    assert "duration_min" in _fields(r)


def test_a_whole_json_number_written_with_a_fraction_is_still_an_integer(client: TestClient, world) -> None:
    """Decided: JSON has one number type, and some serialisers write 90 as 90.0; 90.5 stays refused."""
    assert create(client, world, duration_min=90.0)["duration_min"] == 90
    r = client.post(API, json={"ticket_id": world["ticket"].id, "duration_min": 90.5}, headers=world["agent"])
    assert "duration_min" in _fields(r)


def test_the_date_filter_is_a_date_not_a_date_time(client: TestClient, world) -> None:
    h = world["dispatch"]
    assert client.get(API, params={"date": "2026-12-08"}, headers=h).status_code == 200
    for value in ("2026-12-08T00:00:00Z", "2026-12-08T00:00:00", "2026-12-08 00:00"):
        r = client.get(API, params={"date": value}, headers=h)
        assert "without a time" in _fields(r)["date"], value


def test_unknown_skills_are_refused_on_create_naming_them(client: TestClient, world) -> None:
    w = world
    body = {"ticket_id": w["ticket"].id, "required_skills": ["HVAC", "no-such-skill", "PLUMB"]}
    message = _fields(client.post(API, json=body, headers=w["agent"]))["required_skills"]
    assert "“no-such-skill”" in message and "“PLUMB”" in message and "HVAC" not in message.split(";")[0]
    assert "known skills: ELEC, HVAC" in message
    # a known one spelled otherwise is stored as planning spells it
    assert create(client, w, required_skills=["elec", "hvac"])["required_skills"] == ["ELEC", "HVAC"]


def test_unknown_skills_are_refused_on_update_but_a_kept_one_is_not_rechecked(
    client: TestClient, db, world
) -> None:
    w = world
    wo = create(client, w)
    h = w["dispatch"]
    r = client.patch(
        f"{API}/{wo['id']}",
        json={"required_skills": ["no-such-skill"]},
        headers={**h, "If-Match": etag_of(client, h, wo["id"])},
    )
    assert "“no-such-skill”" in _fields(r)["required_skills"]
    r = client.patch(
        f"{API}/{wo['id']}",
        json={"required_skills": ["HVAC", "elec"]},
        headers={**h, "If-Match": etag_of(client, h, wo["id"])},
    )
    assert r.status_code == 200, r.text
    assert r.json()["required_skills"] == ["HVAC", "ELEC"]
    # ELEC's only engineer leaves: the visit keeps it, and sending it back does not block other edits
    w["other"].skills = ["HVAC"]
    db.commit()
    r = client.patch(
        f"{API}/{wo['id']}",
        json={"required_skills": ["HVAC", "ELEC"], "notes": "gate code 1234"},
        headers={**h, "If-Match": etag_of(client, h, wo["id"])},
    )
    assert r.status_code == 200, r.text
