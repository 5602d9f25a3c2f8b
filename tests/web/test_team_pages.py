"""The team management page: managers and admins only (every route, every role), create,
rename, add and remove members, delete, a stale form refused with a readable conflict, and
readable refusals of bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.teams import service as teams
from app.models import Team, TeamMember, User
from tests import factories as f
from tests.web.conftest import csrf_of


def _team(db: Session, name: str = "North desk") -> Team:
    team = teams.create_team(db, name=name, member_ids=[])
    db.commit()
    return team


def _routes(team_id: int, user_id: int) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("GET", "/desk/teams", {}),
        ("POST", "/desk/teams", {"name": "New"}),
        ("GET", f"/desk/teams/{team_id}", {}),
        ("POST", f"/desk/teams/{team_id}/rename", {"name": "Renamed", "version": "1"}),
        ("POST", f"/desk/teams/{team_id}/members", {"user_id": str(user_id), "version": "1"}),
        ("POST", f"/desk/teams/{team_id}/members/{user_id}/remove", {"version": "1"}),
        ("POST", f"/desk/teams/{team_id}/delete", {"version": "1"}),
    ]


@pytest.mark.parametrize("role", ["agent", "dispatcher", "engineer"])
def test_other_roles_get_403_on_every_route_and_no_menu_item(
    client: TestClient, db: Session, sign_in: Callable[..., User], role: str
) -> None:
    agent = f.make_user(db, role="agent")
    team = _team(db)
    sign_in(role)
    home = client.get("/field" if role == "engineer" else "/desk/queue")
    assert 'href="/desk/teams"' not in home.text
    csrf = csrf_of(home.text) if 'name="csrf"' in home.text else ""
    for method, url, data in _routes(team.id, agent.id):
        r = client.get(url) if method == "GET" else client.post(url, data={**data, "csrf": csrf})
        assert r.status_code == 403, (method, url, r.status_code)
        assert "Teams are managed by managers and admins. Your account (" in r.text
        assert f"role {role}) cannot change them." in r.text
    db.expire_all()
    assert db.get(Team, team.id) is not None and db.get(Team, team.id).name == "North desk"  # type: ignore[union-attr]


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_run_the_whole_life_of_a_team(
    client: TestClient, db: Session, sign_in: Callable[..., User], role: str
) -> None:
    agent = f.make_user(db, role="agent", name="Ada Agent")
    engineer = f.make_user(db, role="engineer", name="Eve Engineer")
    sign_in(role)
    page = client.get("/desk/teams")
    assert page.status_code == 200 and 'href="/desk/teams"' in page.text
    assert '<label for="team-name">Team name</label>' in page.text
    r = client.post("/desk/teams", data={"name": "  South desk ", "csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "The team is created." in r.text  # followed the 303
    team = db.scalar(select(Team).where(Team.name == "South desk"))
    assert team is not None
    team_id = team.id
    assert f'<option value="{agent.id}">Ada Agent (agent)</option>' in r.text
    assert "Eve Engineer" not in r.text  # engineers are not desk users
    version = re.search(r'name="version" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/desk/teams/{team.id}/members",
        data={"user_id": str(agent.id), "version": version, "csrf": csrf_of(r.text)},
    )
    assert "The member is added." in r.text and 'aria-label="Remove Ada Agent from South desk"' in r.text
    assert db.scalar(select(TeamMember.user_id).where(TeamMember.team_id == team.id)) == agent.id
    # an engineer id forged into the form is refused readably
    version = re.search(r'name="version" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    bad = client.post(
        f"/desk/teams/{team.id}/members",
        data={"user_id": str(engineer.id), "version": version, "csrf": csrf_of(r.text)},
    )
    assert bad.status_code == 422 and "Only active agents, dispatchers and managers" in bad.text
    r = client.post(
        f"/desk/teams/{team.id}/rename", data={"name": "South", "version": version, "csrf": csrf_of(r.text)}
    )
    assert "The team is renamed." in r.text and "Team South" in r.text
    version = re.search(r'name="version" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/desk/teams/{team.id}/members/{agent.id}/remove", data={"version": version, "csrf": csrf_of(r.text)}
    )
    assert "The member is removed." in r.text and "Nobody yet." in r.text
    version = re.search(r'name="version" value="(\d+)"', r.text).group(1)  # type: ignore[union-attr]
    r = client.post(f"/desk/teams/{team.id}/delete", data={"version": version, "csrf": csrf_of(r.text)})
    assert "The team is deleted" in r.text
    db.expire_all()
    assert db.get(Team, team_id) is None
    assert client.get(f"/desk/teams/{team_id}").status_code == 404


def test_a_stale_team_form_gets_a_conflict_and_changes_nothing(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    agent, other = f.make_user(db, role="agent"), f.make_user(db, role="dispatcher")
    team = _team(db)
    sign_in("manager")
    page = client.get(f"/desk/teams/{team.id}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    # another manager adds someone meanwhile
    teams.add_member(db, team_id=team.id, user_id=other.id, version=int(version))
    db.commit()
    for url, data in [
        (f"/desk/teams/{team.id}/rename", {"name": "Mine"}),
        (f"/desk/teams/{team.id}/members", {"user_id": str(agent.id)}),
        (f"/desk/teams/{team.id}/delete", {}),
    ]:
        r = client.post(url, data={**data, "version": version, "csrf": csrf_of(page)})
        assert r.status_code == 409 and "Someone else changed this team" in r.text, url
    db.expire_all()
    kept = db.get(Team, team.id)
    assert kept is not None and kept.name == "North desk"
    assert teams.members_of(db, [team.id])[team.id] == [other.id]


def test_bad_team_input_is_readable_never_500(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    team, twin = _team(db), _team(db, "East desk")
    sign_in("manager")
    page = client.get(f"/desk/teams/{team.id}").text
    csrf = csrf_of(page)
    cases = [
        ("/desk/teams", {"name": "   "}, 422, "must not be blank"),
        ("/desk/teams", {"name": "East desk"}, 409, "exists already"),
        ("/desk/teams", {"name": "x" * 101}, 422, "at most 100 characters"),
        (f"/desk/teams/{team.id}/rename", {"name": "East desk", "version": "1"}, 409, "exists already"),
        (f"/desk/teams/{team.id}/rename", {"name": "A", "version": "one"}, 422, "reload the page"),
        (f"/desk/teams/{team.id}/members", {"user_id": "abc", "version": "1"}, 422, "choose a person"),
        (f"/desk/teams/{team.id}/members", {"user_id": "999999", "version": "1"}, 422, "Only active agents"),
        (f"/desk/teams/{team.id}/members/999999/remove", {"version": "1"}, 404, "is not in team"),
        ("/desk/teams/999999/delete", {"version": "1"}, 404, "does not exist"),
    ]
    for url, data, status, text in cases:
        r = client.post(url, data={**data, "csrf": csrf})
        assert r.status_code == status and text in r.text, (url, r.status_code, r.text[:300])
    assert client.post("/desk/teams", data={"name": "No token"}).status_code == 403
    assert twin.name == "East desk"


def test_a_refused_team_name_keeps_what_was_typed_and_case_does_not_make_a_twin(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """A refused name came back as a bare error page, the typed name gone; "east  DESK" was taken as
    a new team beside "East desk"."""
    team = _team(db)
    _team(db, "East desk")
    sign_in("manager")
    page = client.get("/desk/teams").text
    r = client.post("/desk/teams", data={"name": "east  DESK", "csrf": csrf_of(page)})
    assert r.status_code == 409 and "A team named &#39;East desk&#39; exists already" in r.text
    assert 'value="east  DESK"' in r.text and 'id="team-name-error"' in r.text and "New team" in r.text
    page = client.get(f"/desk/teams/{team.id}").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    r = client.post(
        f"/desk/teams/{team.id}/rename", data={"name": "EAST desk", "version": version, "csrf": csrf_of(page)}
    )
    assert r.status_code == 409 and 'value="EAST desk"' in r.text and 'id="rename-error"' in r.text
    teams.rename_team(db, team_id=team.id, name="North desk 2", version=int(version))  # someone else
    db.commit()
    r = client.post(
        f"/desk/teams/{team.id}/rename", data={"name": "Nord", "version": version, "csrf": csrf_of(page)}
    )
    assert r.status_code == 409 and "Someone else changed this team" in r.text and 'value="Nord"' in r.text
    db.expire_all()
    assert db.get(Team, team.id).name == "North desk 2"  # type: ignore[union-attr]


def test_the_team_pages_take_no_status_from_the_query(client: TestClient, db: Session, sign_in: Any) -> None:
    """The page renderers' own arguments were route parameters: `?status=1159` answered HTTP 1159
    (and `?status=200` hid a refusal's status from nobody but the fuzzer)."""
    team = teams.create_team(db, name="Desk Nord", member_ids=[])
    db.commit()
    sign_in("manager")
    for url in ("/desk/teams", f"/desk/teams/{team.id}"):
        r = client.get(url, params={"status": "1159", "refused": "0"})
        assert r.status_code == 200, (url, r.status_code)


def test_members_who_left_the_desk_are_named_and_counted_everywhere(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """QA: /desk/teams showed a deactivated member as "user 17", the team page counted two members
    and listed one."""
    ann = f.make_user(db, role="agent", name="Ann Agent")
    maria = f.make_user(db, role="agent", name="Maria Lopez")
    ida = f.make_user(db, role="dispatcher", name="Ida Iversen")
    team = teams.create_team(db, name="North desk", member_ids=[ann.id, maria.id, ida.id])
    maria.is_active = False
    ida.role = "engineer"
    db.commit()
    sign_in("manager")
    listing = client.get("/desk/teams").text
    assert "Ann Agent, Maria Lopez (inactive), Ida Iversen (now engineer, not a team role)" in listing
    assert f"user {maria.id}" not in listing
    page = client.get(f"/desk/teams/{team.id}").text
    assert "Members (3)" in page and "Maria Lopez (inactive)" in page
    # removable like anyone else, and not offered to be added again
    assert f'action="/desk/teams/{team.id}/members/{maria.id}/remove"' in page
    assert f'<option value="{maria.id}">' not in page


def test_a_member_change_from_an_out_of_date_page_shows_the_team_again(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    """QA: rename, then "Add to the team" or "Delete" from the same loaded page gave a bare 409 page
    whose only link was the start page."""
    agent = f.make_user(db, role="agent", name="Ann Agent")
    team = _team(db)
    sign_in("manager")
    page = client.get(f"/desk/teams/{team.id}").text
    data = {"version": re.search(r'name="version" value="(\d+)"', page).group(1), "csrf": csrf_of(page)}  # type: ignore[union-attr]
    renamed = client.post(f"/desk/teams/{team.id}/rename", data={**data, "name": "Nord"})
    assert "The team is renamed" in renamed.text
    for url, extra in [
        (f"/desk/teams/{team.id}/members", {"user_id": str(agent.id)}),
        (f"/desk/teams/{team.id}/delete", {}),
    ]:
        r = client.post(url, data={**data, **extra})
        assert r.status_code == 409, url
        assert 'id="team-problem"' in r.text and "Someone else changed this team" in r.text
        assert "Team Nord" in r.text and 'href="/desk/teams"' in r.text  # the team as it is now
        assert f'name="version" value="{int(data["version"]) + 1}"' in r.text  # forms that can be sent
    db.expire_all()
    assert db.get(Team, team.id) is not None and teams.members_of(db, [team.id])[team.id] == []
