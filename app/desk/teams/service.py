"""Create, rename and delete teams and change their members (desk users only: agents,
dispatchers, managers).

Only a *new* member must be an active desk user. Someone already in a team who has left the desk
since (deactivated, or given another role) stays a member, shown as such ("Ann (inactive)"), until a
manager removes them: a list sent back unchanged (`PUT …/members` echoing the team) is accepted, as
a ticket's unchanged assignee is, and the member is back in their team if they return.

Page edits carry the team's version: `_claim` bumps it in one guarded UPDATE, so of two edits
made from the same page view the second is refused with a conflict instead of overwriting."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.models import Role, Team, TeamMember, User
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.text import is_blank

DESK = (Role.agent.value, Role.dispatcher.value, Role.manager.value)
STALE = (
    "Someone else changed this team after you opened the page (its name or its members). Nothing "
    "was changed; reload the page to see the team as it is now and make your change again."
)


def members_of(session: Session, team_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {t: [] for t in team_ids}
    for m in session.scalars(
        select(TeamMember).where(TeamMember.team_id.in_(list(team_ids) or [-1])).order_by(TeamMember.user_id)
    ):
        out[m.team_id].append(m.user_id)
    return out


def member_users(session: Session, team_ids: Sequence[int]) -> dict[int, User]:
    """Every member of these teams, on the desk or not, by id."""
    ids = {i for members in members_of(session, team_ids).values() for i in members}
    return {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids or [-1])))}


def member_name(user: User) -> str:
    """A member as the team pages name them: one who has left the desk says so."""
    if not user.is_active:
        return f"{user.name} (inactive)"
    return user.name if user.role in DESK else f"{user.name} (now {user.role}, not a team role)"


def desk_users(session: Session) -> list[User]:
    """Who may be a member: active desk users."""
    return list(
        session.scalars(select(User).where(User.is_active.is_(True), User.role.in_(DESK)).order_by(User.name))
    )


def _check_members(session: Session, user_ids: Sequence[int], current: Sequence[int] = ()) -> list[int]:
    """The ids, sorted; each not among `current` members must be an active desk user."""
    ids = sorted(set(user_ids))
    found = set(current) | set(
        session.scalars(
            select(User.id).where(User.id.in_(ids or [-1]), User.is_active.is_(True), User.role.in_(DESK))
        )
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Unprocessable(
            f"Only active agents, dispatchers and managers can be in a team; user(s) "
            f"{', '.join(map(str, missing))} are not.",
            errors=[
                {"field": "member_ids", "message": f"user {i} is not an active desk user"} for i in missing
            ],
        )
    return ids


def _name(session: Session, name: str, team_id: int | None = None) -> str:
    name = name.strip()
    if is_blank(name):
        raise Unprocessable(
            "Team name: must not be blank.", errors=[{"field": "name", "message": "must not be blank"}]
        )
    if len(name) > 100:
        raise Unprocessable(
            "Team name: at most 100 characters.",
            errors=[{"field": "name", "message": "at most 100 characters"}],
        )
    name = " ".join(name.split())
    # "desk münchen-nord" beside "Desk München-Nord" is the same team to a reader: compared
    # case-folded in Python (SQLite's lower() folds ASCII only). Teams are a handful of rows.
    key = name.casefold()
    for other_id, other_name in session.execute(select(Team.id, Team.name)).tuples():
        if other_id != team_id and " ".join(other_name.split()).casefold() == key:
            raise Conflict(
                f"A team named {other_name!r} exists already.",
                errors=[{"field": "name", "message": f"a team named {other_name!r} exists already"}],
            )
    return name


def get_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


def _claim(session: Session, team: Team, version: int | None) -> None:
    """Bump the version; with `version`, only if it is still the one the editor saw."""
    stmt = update(Team).where(Team.id == team.id).values(version=Team.version + 1)
    if version is not None:
        stmt = stmt.where(Team.version == version)
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(STALE)
    session.refresh(team)


def create_team(session: Session, *, name: str, member_ids: Sequence[int]) -> Team:
    name = _name(session, name)
    ids = _check_members(session, member_ids)
    team = Team(name=name)
    session.add(team)
    session.flush()
    session.add_all(TeamMember(team_id=team.id, user_id=i) for i in ids)
    session.flush()
    return team


def set_members(
    session: Session, *, team_id: int, member_ids: Sequence[int], version: int | None = None
) -> Team:
    team = get_team(session, team_id)
    ids = _check_members(session, member_ids, members_of(session, [team_id])[team_id])
    _claim(session, team, version)
    session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    session.add_all(TeamMember(team_id=team_id, user_id=i) for i in ids)
    session.flush()
    return team


def rename_team(session: Session, *, team_id: int, name: str, version: int) -> Team:
    team = get_team(session, team_id)
    name = _name(session, name, team_id)
    _claim(session, team, version)
    team.name = name
    session.flush()
    return team


def delete_team(session: Session, *, team_id: int, version: int) -> None:
    team = get_team(session, team_id)
    _claim(session, team, version)
    session.execute(delete(TeamMember).where(TeamMember.team_id == team_id))
    session.delete(team)
    session.flush()


def add_member(session: Session, *, team_id: int, user_id: int, version: int) -> Team:
    team = get_team(session, team_id)
    _check_members(session, [user_id])
    if user_id in members_of(session, [team_id])[team_id]:
        raise Conflict("That user is in this team already.")
    _claim(session, team, version)
    session.add(TeamMember(team_id=team_id, user_id=user_id))
    session.flush()
    return team


def remove_member(session: Session, *, team_id: int, user_id: int, version: int) -> Team:
    team = get_team(session, team_id)
    _claim(session, team, version)
    gone = session.execute(
        delete(TeamMember).where(TeamMember.team_id == team_id, TeamMember.user_id == user_id)
    )
    if gone.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound(f"User {user_id} is not in team {team.name!r}.")
    session.flush()
    return team
