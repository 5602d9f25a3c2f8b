"""Teams through the API: managers create them and set members (desk users only, several teams
per user); the queue's team view follows the membership."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f


def test_managers_make_teams_and_the_team_view_follows(client: TestClient, db: Session) -> None:
    manager, ann, bob = f.make_user(db, role="manager"), f.make_user(db), f.make_user(db)
    engineer = f.make_user(db, role="engineer")
    account = f.make_account(db)
    ticket = f.open_ticket(db, account)
    ticket.assignee_id = bob.id
    db.commit()
    as_manager, as_ann = f.bearer(manager), f.bearer(ann)
    refused = client.post("/api/v1/teams", json={"name": "Nord", "member_ids": [ann.id]}, headers=as_ann)
    assert refused.status_code == 403  # agents may read teams, not make them
    bad = client.post("/api/v1/teams", json={"name": "Nord", "member_ids": [engineer.id]}, headers=as_manager)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "member_ids"
    made = client.post("/api/v1/teams", json={"name": "Nord", "member_ids": [ann.id]}, headers=as_manager)
    assert made.status_code == 201 and made.headers["Location"] == f"/api/v1/teams/{made.json()['id']}"
    again = client.post("/api/v1/teams", json={"name": "Nord"}, headers=as_manager)
    assert again.status_code == 409
    team = made.json()["id"]
    view = {"view": "team"}
    assert client.get("/api/v1/tickets", params=view, headers=as_ann).json()["items"] == []
    members = {"member_ids": [ann.id, bob.id]}
    blind = client.put(f"/api/v1/teams/{team}/members", json=members, headers=as_manager)
    assert blind.status_code == 428  # replacing members without naming the version read
    read = client.get(f"/api/v1/teams/{team}", headers=as_ann)
    assert read.status_code == 200 and read.json()["member_ids"] == [ann.id]
    put = client.put(
        f"/api/v1/teams/{team}/members",
        json=members,
        headers={**as_manager, "If-Match": read.headers["ETag"]},
    )
    assert put.status_code == 200 and put.json()["member_ids"] == sorted([ann.id, bob.id])
    # a second manager still holding the first read is refused, not silently overwriting
    stale = client.put(
        f"/api/v1/teams/{team}/members",
        json={"member_ids": []},
        headers={**as_manager, "If-Match": read.headers["ETag"]},
    )
    assert stale.status_code == 412
    assert client.get(f"/api/v1/teams/{team}", headers=as_ann).json()["member_ids"] == sorted(
        [ann.id, bob.id]
    )
    other = client.post("/api/v1/teams", json={"name": "Süd", "member_ids": [bob.id]}, headers=as_manager)
    assert other.status_code == 201  # bob is in two teams now
    listed = client.get("/api/v1/teams", headers=as_ann).json()
    assert [(t["name"], t["member_ids"]) for t in listed] == [
        ("Nord", sorted([ann.id, bob.id])),
        ("Süd", [bob.id]),
    ]
    items = client.get("/api/v1/tickets", params=view, headers=as_ann).json()["items"]
    assert [t["number"] for t in items] == [ticket.number]
    assert (
        client.put(
            "/api/v1/teams/999999/members",
            json={"member_ids": []},
            headers={**as_manager, "If-Match": '"v1"'},
        ).status_code
        == 404
    )


def test_a_member_who_left_the_desk_stays_and_the_api_takes_its_own_list_back(
    client: TestClient, db: Session
) -> None:
    """QA: after user 26 was deactivated, `GET` still listed her and a `PUT` of that same list was a
    422 "user 26 is not an active desk user". Only a new member must be an active desk user."""
    manager, ann, bob = f.make_user(db, role="manager"), f.make_user(db), f.make_user(db)
    gone = f.make_user(db)
    db.commit()
    as_manager = f.bearer(manager)
    body = {"name": "Nord", "member_ids": [ann.id, bob.id]}
    made = client.post("/api/v1/teams", json=body, headers=as_manager)
    team = made.json()["id"]
    bob.is_active = False
    gone.is_active = False
    db.commit()

    read = client.get(f"/api/v1/teams/{team}", headers=as_manager)
    assert read.json()["member_ids"] == [ann.id, bob.id]
    put = client.put(
        f"/api/v1/teams/{team}/members",
        json={"member_ids": read.json()["member_ids"]},
        headers={**as_manager, "If-Match": read.headers["ETag"]},
    )
    assert put.status_code == 200, put.text
    assert put.json()["member_ids"] == [ann.id, bob.id]
    new_inactive = client.put(
        f"/api/v1/teams/{team}/members",
        json={"member_ids": [ann.id, bob.id, gone.id]},
        headers={**as_manager, "If-Match": put.headers["ETag"]},
    )
    assert new_inactive.status_code == 422
    assert new_inactive.json()["errors"] == [
        {"field": "member_ids", "message": f"user {gone.id} is not an active desk user"}
    ]
