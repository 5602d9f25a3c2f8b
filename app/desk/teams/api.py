"""/api/v1/teams: list and read teams (desk roles); create one and set its members (managers,
admins). Setting the members replaces them, so it needs If-Match with the team's ETag: two
managers editing the same team never silently overwrite each other (412 for the later one)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.desk.teams import service as teams
from app.models import Team
from app.platform.deps import DbSession, DeskUser, ManagerUser
from app.platform.http import IF_MATCH, etag, require_if_match
from app.platform.inputs import InputModel

router = APIRouter(prefix="/teams", tags=["teams"])


class TeamIn(InputModel):
    name: str = Field(max_length=100)
    member_ids: list[int] = Field(default_factory=list, max_length=500)


class MembersIn(InputModel):
    member_ids: list[int] = Field(max_length=500)


class TeamRead(BaseModel):
    id: int
    name: str
    member_ids: list[int]
    version: int


def _read(db: DbSession, team: Team, response: Response) -> TeamRead:
    response.headers["ETag"] = etag(team.version)
    members = teams.members_of(db, [team.id])[team.id]
    return TeamRead(id=team.id, name=team.name, member_ids=members, version=team.version)


@router.get("")
def list_teams(db: DbSession, user: DeskUser) -> list[TeamRead]:
    rows = list(db.scalars(select(Team).order_by(Team.name)))
    members = teams.members_of(db, [t.id for t in rows])
    return [TeamRead(id=t.id, name=t.name, member_ids=members[t.id], version=t.version) for t in rows]


@router.get("/{team_id}")
def get_team(team_id: int, db: DbSession, user: DeskUser, response: Response) -> TeamRead:
    return _read(db, teams.get_team(db, team_id), response)


@router.post("", status_code=201)
def create_team(body: TeamIn, db: DbSession, user: ManagerUser, response: Response) -> TeamRead:
    team = teams.create_team(db, name=body.name, member_ids=body.member_ids)
    response.headers["Location"] = f"/api/v1/teams/{team.id}"
    return _read(db, team, response)


@router.put("/{team_id}/members", dependencies=[IF_MATCH])
def set_members(
    team_id: int, body: MembersIn, db: DbSession, user: ManagerUser, request: Request, response: Response
) -> TeamRead:
    """Replace the members (a user may be in several teams); needs If-Match."""
    team = teams.get_team(db, team_id)
    require_if_match(request, team.version)
    updated = teams.set_members(db, team_id=team_id, member_ids=body.member_ids, version=team.version)
    return _read(db, updated, response)
