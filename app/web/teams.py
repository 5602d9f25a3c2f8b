"""Team management (managers and admins): list, create, rename and delete teams; add and remove
members (active desk users). The queue's "My team's" view reads these teams.

Plain form POSTs with the CSRF token; every edit of an existing team carries its hidden version
(desk/teams/service.py refuses a stale one, never a silent overwrite): a refused change shows the
team page again, as it is now, with why. Members who have left the desk stay listed, marked
("Ann (inactive)"), until a manager removes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.teams import service as teams
from app.models import Team, User
from app.platform.errors import AppError, Conflict, NotFound, Unprocessable
from app.web.shared import (
    PageDb,
    PageRoute,
    form_version,
    invalid,
    managers_only,
    optional_id,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
DONE = {
    "created": "The team is created.",
    "renamed": "The team is renamed.",
    "deleted": "The team is deleted; its tickets stay where they are.",
    "added": "The member is added.",
    "removed": "The member is removed.",
}


TeamsUser = Annotated[
    User, Depends(managers_only("Teams are managed by managers and admins. {account} cannot change them."))
]


@router.get("/desk/teams")
def team_list(request: Request, db: PageDb, user: TeamsUser) -> HTMLResponse:
    return _list_view(request, db, user)


def _list_view(
    request: Request,
    db: Session,
    user: User,
    refused: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    # Not the route itself: its parameters would be query parameters (`?status=1159` answered
    # HTTP 1159, a server error to every client; found by tests/web/test_page_fuzz.py).
    rows = list(db.scalars(select(Team).order_by(Team.name)))
    members = teams.members_of(db, [t.id for t in rows])
    people = teams.member_users(db, [t.id for t in rows])
    context = {
        "nav": "teams",
        "teams": [(t, [teams.member_name(people[i]) for i in members[t.id]]) for t in rows],
        "flash": DONE.get(request.query_params.get("done", ""), ""),
        "refused": refused,
    }
    return render(request, "desk/teams.html", context, status_code=status)


@router.post("/desk/teams", response_model=None)
def team_create(
    request: Request,
    db: PageDb,
    user: TeamsUser,
    name: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        team = teams.create_team(db, name=name, member_ids=[])
    except AppError as exc:  # the list again, with the name typed and why (it was a bare error page)
        db.rollback()
        return _list_view(
            request, db, user, refused={"name": name, "error": exc.detail}, status=exc.status_code
        )
    db.commit()
    return RedirectResponse(f"/desk/teams/{team.id}?done=created", status_code=303)


@router.get("/desk/teams/{team_id}")
def team_page(team_id: int, request: Request, db: PageDb, user: TeamsUser) -> HTMLResponse:
    return _team_view(team_id, request, db, user)


def _team_view(
    team_id: int,
    request: Request,
    db: Session,
    user: User,
    refused: dict[str, str] | None = None,
    status: int = 200,
    problem: str = "",
) -> HTMLResponse:
    """`refused`: a rename refused (the typed name and why); `problem`: another change refused."""
    team = teams.get_team(db, team_id)
    people = teams.member_users(db, [team.id])
    members = sorted(people.values(), key=lambda u: (u.name, u.id))
    context = {
        "nav": "teams",
        "team": team,
        "members": [(u, teams.member_name(u)) for u in members],
        "candidates": [u for u in teams.desk_users(db) if u.id not in people],
        "flash": DONE.get(request.query_params.get("done", ""), ""),
        "refused": refused,
        "problem": problem,
    }
    return render(request, "desk/team.html", context, status_code=status)


def _refused(team_id: int, request: Request, db: Session, user: User, exc: AppError) -> HTMLResponse:
    """A member change or a delete refused (a page opened before someone else's change, a person no
    longer on the desk): the team page again, as it is now, saying why. It was a bare error page
    whose only link was the start page."""
    db.rollback()
    return _team_view(team_id, request, db, user, status=exc.status_code, problem=exc.detail)


@router.post("/desk/teams/{team_id}/rename", response_model=None)
def team_rename(
    team_id: int,
    request: Request,
    db: PageDb,
    user: TeamsUser,
    name: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        teams.rename_team(db, team_id=team_id, name=name, version=form_version(version))
    except (Conflict, Unprocessable) as exc:  # the team page again, the new name kept, and why
        db.rollback()
        return _team_view(
            team_id, request, db, user, refused={"name": name, "error": exc.detail}, status=exc.status_code
        )
    db.commit()
    return RedirectResponse(f"/desk/teams/{team_id}?done=renamed", status_code=303)


@router.post("/desk/teams/{team_id}/delete", response_model=None)
def team_delete(
    team_id: int,
    request: Request,
    db: PageDb,
    user: TeamsUser,
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        teams.delete_team(db, team_id=team_id, version=form_version(version))
    except Conflict as exc:
        return _refused(team_id, request, db, user, exc)
    db.commit()
    return RedirectResponse("/desk/teams?done=deleted", status_code=303)


@router.post("/desk/teams/{team_id}/members", response_model=None)
def team_add_member(
    team_id: int,
    request: Request,
    db: PageDb,
    user: TeamsUser,
    user_id: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        chosen = optional_id(user_id)
    except ValueError:
        chosen = None
    if chosen is None:
        raise invalid({"user_id": "choose a person from the list"})
    try:
        teams.add_member(db, team_id=team_id, user_id=chosen, version=form_version(version))
    except (Conflict, Unprocessable) as exc:
        return _refused(team_id, request, db, user, exc)
    db.commit()
    return RedirectResponse(f"/desk/teams/{team_id}?done=added", status_code=303)


@router.post("/desk/teams/{team_id}/members/{user_id}/remove", response_model=None)
def team_remove_member(
    team_id: int,
    user_id: int,
    request: Request,
    db: PageDb,
    user: TeamsUser,
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    try:
        teams.remove_member(db, team_id=team_id, user_id=user_id, version=form_version(version))
    except (Conflict, NotFound) as exc:
        return _refused(team_id, request, db, user, exc)
    db.commit()
    return RedirectResponse(f"/desk/teams/{team_id}?done=removed", status_code=303)
