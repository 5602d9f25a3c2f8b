"""The desk queue's saved views on PostgreSQL: per-view latency (p50/p95) and the query plans.

Two ways to get data (both into their own database, dropped and re-created):

    # the issue's target: the 100 000-customer demo company (~1 M tickets). Heavy: run it only
    # on a machine nobody else is using (the seed alone takes several minutes).
    .venv/bin/python bench/queues.py --seed-customers 100000

    # a cheap check of the plans: N synthetic tickets (95 % closed history) for one account
    .venv/bin/python bench/queues.py --synthetic 200000

Latency is server-side: `queue.list_queue` for one page (50 rows) as the service would run it
inside a request, per view for several desk users, after one warm-up. `EXPLAIN (ANALYZE,
BUFFERS)` of each view is printed so the index each one uses can be read off.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_queue_bench"


def _synthetic(session, n: int) -> None:  # type: ignore[no-untyped-def]
    """N tickets straight through SQL: 95 % closed, the live ones spread over 40 agents (in 4
    teams) and nobody (a third), due from 2 h ago to 3 days ahead."""
    from sqlalchemy import text

    from app import models as m
    from app.platform.auth import hash_password

    account = m.Account(name="Bench GmbH")
    session.add(account)
    pw = hash_password("bench-pass")
    agents = [
        m.User(email=f"agent{i}@bench.example", name=f"Agent {i}", role="agent", password_hash=pw)
        for i in range(40)
    ]
    session.add_all(agents)
    session.flush()
    teams = [m.Team(name=f"Team {i}") for i in range(4)]
    session.add_all(teams)
    session.flush()
    session.add_all(m.TeamMember(team_id=teams[i % 4].id, user_id=a.id) for i, a in enumerate(agents))
    session.flush()
    first, last = agents[0].id, agents[-1].id
    session.execute(
        text(
            """
            INSERT INTO ticket (number, account_id, channel, subject, description, category, priority,
                status, assignee_id, sla_tier, opened_at, first_response_at, first_response_due_at,
                resolution_due_at, sla_paused, sla_breached, updated_at, version)
            SELECT 'QB-' || g, :account, (ARRAY['phone','email','web'])[1 + g % 3],
                'Bench ticket ' || g, '', '',
                'P' || (1 + g % 4),
                CASE WHEN g % 20 = 0
                     THEN (ARRAY['new','open','waiting_on_customer','scheduled'])[1 + g / 20 % 4]
                     ELSE 'closed' END,
                CASE WHEN g % 3 = 0 THEN NULL ELSE :first + (g / 20) % (:last - :first + 1) END,
                'standard', now() - interval '1 day',
                CASE WHEN g % 2 = 0 THEN now() - interval '20 hours' END,
                now() - interval '2 hours' + (g % 4320) * interval '1 minute',
                now() + (g % 4320) * interval '2 minutes',
                false, false, now(), 1
            FROM generate_series(1, :n) AS g
            """
        ),
        {"account": account.id, "first": first, "last": last, "n": n},
    )
    session.commit()
    session.execute(text("ANALYZE ticket"))
    session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--reuse", action="store_true", help="measure the database as it is")
    group.add_argument("--seed-customers", type=int, help="run `fieldline seed --customers N` first")
    group.add_argument("--synthetic", type=int, help="insert N synthetic tickets instead")
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="emptied at the start")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per view and user")
    args = parser.parse_args()

    os.environ.update(
        DATABASE_URL=args.database_url, SECRET_KEY="queue-bench", DEMO_MODE="1", TASK_ALWAYS_EAGER="1"
    )
    from plan_common import fresh_database, machine, pct

    if not args.reuse:
        fresh_database(args.database_url, args.redis_url)
    from sqlalchemy import select, text
    from sqlalchemy.orm import Session

    from app import models as m
    from app.desk.tickets import queue
    from app.platform.db import get_engine

    engine = get_engine()
    started = time.perf_counter()
    if args.reuse:
        pass
    elif args.seed_customers:
        subprocess.run(
            [sys.executable, "-m", "app.cli", "seed", "--customers", str(args.seed_customers)],
            cwd=ROOT,
            check=True,
            env=os.environ.copy(),
        )
    else:
        with Session(engine) as s:
            _synthetic(s, args.synthetic)
    print(f"data ready in {time.perf_counter() - started:.1f} s")

    with Session(engine) as s:
        total = s.scalar(text("SELECT count(*) FROM ticket"))
        live = s.scalar(text("SELECT count(*) FROM ticket WHERE status NOT IN ('resolved', 'closed')"))
        print(f"tickets: {total} ({live} live)")
        users = list(s.scalars(select(m.User).where(m.User.role.in_(["agent", "manager"])).limit(5)))
        if args.seed_customers and not s.scalar(select(m.Team.id).limit(1)):
            # The seed has no teams: put its desk users in two, so "my team's" has members.
            teams = [m.Team(name="Bench A"), m.Team(name="Bench B")]
            s.add_all(teams)
            s.flush()
            desk = s.scalars(select(m.User).where(m.User.role.in_(["agent", "dispatcher", "manager"]))).all()
            s.add_all(m.TeamMember(team_id=teams[i % 2].id, user_id=u.id) for i, u in enumerate(desk))
            s.commit()
        for view in queue.VIEWS:
            times: list[float] = []
            for user in users:
                q = queue.QueueQuery(view=view)
                queue.list_queue(s, user, q)  # warm-up
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    queue.list_queue(s, user, q)
                    times.append((time.perf_counter() - t0) * 1000)
            print(
                f"{view:15s} p50 {statistics.median(times):6.2f} ms  p95 {pct(times, 0.95):6.2f} ms  "
                f"max {max(times):6.2f} ms  (n={len(times)})"
            )
            stmt = queue.statement(s, users[0], queue.QueueQuery(view=view), window=51).limit(51)
            compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
            plan = s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
            print(
                "    "
                + "\n    ".join(
                    line for line in plan if "Index" in line or "Seq Scan" in line or "Execution" in line
                )
            )
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
