"""Create teams and set their members (desk users only: agents, dispatchers, managers)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.models import Role, Team, TeamMember, User
from app.platform.errors import Conflict, NotFound, Unprocessable

DESK = (Role.agent.value, Role.dispatcher.value, Role.manager.value)


def members_of(session: Session, team_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    for m in session.scalars(
        select(TeamMember).where(TeamMember.team_id.in_(list(team_ids) or [-1])).order_by(TeamMember.user_id)
    ):
        out[m.team_id].append(m.user_id)
    return out


def _check_members(session: Session, user_ids: Sequence[int]) -> list[int]:
    ids = sorted(set(user_ids))
    found = set(
        session.scalars(
            select(User.id).where(User.id.in_(ids or [-1]), User.is_active.is_(True), User.role.in_(DESK))
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(
            f"not active desk users: {', '.join(map(str, missing))}",
            errors=[
                {"field": "member_ids", "message": f"user {i} is not an active desk user"} for i in missing
            ],
        )
    return ids


def create_team(session: Session, *, name: str, member_ids: Sequence[int]) -> Team:
    name = name.strip()
    if not name:
        raise Unprocessable("a team needs a name", errors=[{"field": "name", "message": "must not be blank"}])
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"A team named {name!r} exists already.")
    ids = _check_members(session, member_ids)
    team = Team(name=name)
    session.add(team)
    session.flush()
    session.add_all(TeamMember(team_id=team.id, user_id=i) for i in ids)
    session.flush()
    return team


def set_members(session: Session, *, team_id: int, member_ids: Sequence[int]) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    ids = _check_members(session, member_ids)
    session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    session.add_all(TeamMember(team_id=team_id, user_id=i) for i in ids)
    session.flush()
    return team
