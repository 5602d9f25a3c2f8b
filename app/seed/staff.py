"""The demo company's desk: agents and key account managers per region, their teams, who owns
which account, and who works which open ticket (demo mode only: these are login users).

The rule (docs/customers.md, "Demo data"):
- each region has a desk team ("Desk München-Nord", …) of agents: at least 2, one more for each
  started 1 000 customers; the demo agent (agent@example.com) is one of München-Nord's;
- each region has key account managers (role manager): one per started 4 000 customers; the
  demo manager (manager@example.com) is München-Ost's first; they and the demo agent form the
  "Key accounts" team, so the demo agent is in two teams;
- platinum accounts are owned by their region's key account managers, gold accounts by their
  region's desk agents (round robin by account id); silver and standard accounts have no owner,
  so their unhappy answers go to the recovery queue that managers see;
- two in three open tickets are assigned to an agent of their region's desk team (the site's
  region, else the account's), one in three waits unassigned.
Choices are derived from ids and a random stream of their own, so the rest of the demo is
unchanged by them and the same seed gives the same desk.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.seed.data import FIRST_NAMES, LAST_NAMES, REGIONS
from app.seed.world import _existing
from app.seed.writer import BulkWriter, table

CUSTOMERS_PER_AGENT = 1000  # per region
CUSTOMERS_PER_KEY_ACCOUNT_MANAGER = 4000  # per region
MIN_AGENTS = 2
DEMO_AGENT = "agent@example.com"
DEMO_MANAGER = "manager@example.com"
DEMO_AGENT_REGION = "MUC-N"
DEMO_MANAGER_REGION = "MUC-O"
KEY_ACCOUNTS_TEAM = "Key accounts"
USER_COLS = ("id", "email", "name", "role", "password_hash", "is_active", "created_at")


def team_name(region: str) -> str:
    return f"Desk {REGIONS[region]}"


@dataclass
class Staff:
    """Desk users by region (empty outside demo mode: nobody owns or works anything)."""

    agents: dict[str, list[int]] = field(default_factory=dict)
    managers: dict[str, list[int]] = field(default_factory=dict)

    def owner(self, region: str, tier: str, account_id: int) -> int | None:
        pool = {"platinum": self.managers, "gold": self.agents}.get(tier, {}).get(region)
        return pool[account_id % len(pool)] if pool else None

    def assignee(self, region: str, ticket_id: int) -> int | None:
        """An open ticket's agent: none for every third ticket, else round robin in the region."""
        pool = self.agents.get(region)
        if not pool or ticket_id % 3 == 0:
            return None
        return pool[(ticket_id // 3) % len(pool)]


def headcount(customers: int) -> tuple[int, int]:
    """(agents, key account managers) per region for a company of `customers`."""
    return (
        max(MIN_AGENTS, math.ceil(customers / CUSTOMERS_PER_AGENT)),
        max(1, math.ceil(customers / CUSTOMERS_PER_KEY_ACCOUNT_MANAGER)),
    )


def build_staff(
    w: BulkWriter, password_hash: str, customers: int, rng: random.Random, now: datetime
) -> Staff:
    """Write the desk users, the teams and their members; an e-mail or team name that exists
    already is kept (and its user still takes its place in the desk)."""
    have = _existing(w, "user", "email")
    n_agents, n_managers = headcount(customers)
    rows: list[tuple[object, ...]] = []

    def user(email: str, role: str) -> int:
        if email in have:
            return int(have[email])
        uid = w.next_id("user")
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rows.append((uid, email, name, role, password_hash, True, now))
        have[email] = uid
        return uid

    staff = Staff()
    for region in REGIONS:
        slug = region.lower()
        agents = [user(DEMO_AGENT, "agent")] if region == DEMO_AGENT_REGION else []
        agents += [user(f"desk-{slug}-{k}@example.com", "agent") for k in range(1, n_agents + 1)]
        managers = [user(DEMO_MANAGER, "manager")] if region == DEMO_MANAGER_REGION else []
        managers += [
            user(f"kam-{slug}-{k}@example.com", "manager") for k in range(1, n_managers + 1 - len(managers))
        ]
        staff.agents[region], staff.managers[region] = agents, managers
    w.write("user", USER_COLS, rows)

    teams = _existing(w, "team", "name")
    tm = table("team_member")
    members = set(w.conn.execute(select(tm.c.team_id, tm.c.user_id)).tuples())
    team_rows: list[tuple[object, ...]] = []
    member_rows: list[tuple[object, ...]] = []
    wanted = {team_name(r): staff.agents[r] for r in REGIONS}
    wanted[KEY_ACCOUNTS_TEAM] = [u for r in REGIONS for u in staff.managers[r]] + [have[DEMO_AGENT]]
    for name, user_ids in wanted.items():
        if name not in teams:
            teams[name] = w.next_id("team")
            team_rows.append((teams[name], name))
        for uid in dict.fromkeys(user_ids):  # in order, once
            if (teams[name], uid) not in members:
                member_rows.append((teams[name], uid))
    w.write("team", ("id", "name"), team_rows)
    w.write("team_member", ("team_id", "user_id"), member_rows)
    return staff
