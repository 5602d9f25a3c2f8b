"""/api/v1/teams: list teams (desk roles); create one and set its members (managers, admins)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from app.desk.teams import service as teams
from app.models import Team
from app.platform.deps import DbSession, DeskUser, ManagerUser
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


def _read(db: DbSession, team: Team) -> TeamRead:
    return TeamRead(id=team.id, name=team.name, member_ids=teams.members_of(db, [team.id])[team.id])


@router.get("")
def list_teams(db: DbSession, user: DeskUser) -> list[TeamRead]:
    rows = list(db.scalars(select(Team).order_by(Team.name)))
    members = teams.members_of(db, [t.id for t in rows])
    return [TeamRead(id=t.id, name=t.name, member_ids=members[t.id]) for t in rows]


@router.post("", status_code=201)
def create_team(body: TeamIn, db: DbSession, user: ManagerUser, response: Response) -> TeamRead:
    team = teams.create_team(db, name=body.name, member_ids=body.member_ids)
    response.headers["Location"] = f"/api/v1/teams/{team.id}"
    return _read(db, team)


@router.put("/{team_id}/members")
def set_members(team_id: int, body: MembersIn, db: DbSession, user: ManagerUser) -> TeamRead:
    """Replace the members (a user may be in several teams)."""
    return _read(db, teams.set_members(db, team_id=team_id, member_ids=body.member_ids))
