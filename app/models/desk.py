"""Desk teams: a user belongs to one or more; the queue's "my team's tickets" view reads them."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.platform.db import Base


class Team(Base):
    __tablename__ = "team"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Bumped by every change of the name or the members (desk/teams/service.py, one guarded
    # UPDATE): the team page's hidden version, so a stale form never overwrites.
    version: Mapped[int] = mapped_column(default=1, server_default="1")


class TeamMember(Base):
    __tablename__ = "team_member"
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), primary_key=True)
    # Indexed on its own: "which teams is this user in" is the question every queue view asks.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
