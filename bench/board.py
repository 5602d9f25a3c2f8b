"""The dispatcher's board at size: one region with N engineers and M visits on a published plan.

    .venv/bin/python bench/board.py                          # 100 engineers, 1 000 visits
    .venv/bin/python bench/board.py --engineers 10 --visits 100 --repeat 3 --no-browser   # smoke
    .venv/bin/python bench/board.py --moves 50 --no-browser   # more move previews

Prints, each over `--repeat` runs after a warm-up:
- the board data built in-process (`app.planning.board.board` + ETag), the server's work;
- `GET /board/data` through a real uvicorn server (HTTP included), and its 304 answer to a poll;
- the move preview: a visit dragged onto another engineer's row opens
  `GET /board/visits/{id}/reassign`, which solves the receiving engineer's day with the visit and
  the giving engineer's day (the travel she saves) before the dispatcher confirms
  (`app.planning.assign.assign`, dry run, nothing written). Timed over `--moves` different moves,
  in-process (the planner's work) and over HTTP (the page the drag opens), with the size of the
  day those moves re-plan;
- with Chromium available: the board page's first render (navigation start to every engineer's
  row drawn by board.js).

The region is written straight into its own database (no solver): stops of 45 minutes with
travel between them, 5 % of the visits left unassigned with a reason.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/fl_board_bench"
PASSWORD = "board-bench-pass"


def _visit(session: Any, account_id: int, region_id: int, n: int, rng: random.Random, **wo: Any) -> Any:
    """Site, ticket and work order number `n` (work-order fields in `wo`)."""
    from app import models as m

    site = m.Site(
        account_id=account_id,
        region_id=region_id,
        name=f"Site {n}",
        latitude=48.0 + rng.random() * 0.3,
        longitude=11.3 + rng.random() * 0.5,
    )
    ticket = m.Ticket(
        number=f"BT-{n:06d}",
        account_id=account_id,
        channel="phone",
        subject="Bench",
        priority=wo.get("priority", "P3"),
        status="scheduled" if wo.get("engineer_id") else "open",
    )
    session.add_all([site, ticket])
    session.flush()
    work_order = m.WorkOrder(
        number=f"BW-{n:06d}",
        ticket_id=ticket.id,
        account_id=account_id,
        site_id=site.id,
        region_id=region_id,
        **wo,
    )
    session.add(work_order)
    session.flush()
    return work_order


def build(session: Any, *, engineers: int, visits: int, seed: int) -> dict[str, Any]:
    from datetime import time as clock

    from app import models as m
    from app.planning import keys
    from app.platform.auth import hash_password

    rng = random.Random(seed)
    tz = "Europe/Berlin"
    today = datetime.now(UTC).date()
    day = today + timedelta(days=(0 - today.weekday()) % 7 + 7)  # Monday of next week
    region = m.Region(code="BB", name="Board bench", timezone=tz)
    session.add(region)
    session.flush()
    dispatcher = m.User(
        email="dispatch@bench.example",
        name="Bench Dispatcher",
        role="dispatcher",
        password_hash=hash_password(PASSWORD),
    )
    account = m.Account(name="Bench Customer")
    session.add_all([dispatcher, account])
    session.flush()
    for i in range(3):
        session.add(
            m.Warehouse(
                name=f"Bench WH {i}",
                region_id=region.id,
                latitude=48.1 + 0.05 * i,
                longitude=11.5 + 0.05 * i,
                opens=clock(7),
                closes=clock(18),
            )
        )
    people = []
    for i in range(engineers):
        e = m.Engineer(
            name=f"Engineer {i:03d}",
            region_id=region.id,
            skills=["HVAC"],
            home_latitude=48.0 + rng.random() * 0.3,
            home_longitude=11.3 + rng.random() * 0.5,
        )
        people.append(e)
    session.add_all(people)
    session.flush()
    for e in people:
        session.add(
            m.Shift(
                engineer_id=e.id,
                weekday=day.weekday(),
                starts=clock(8),
                ends=clock(17),
                break_starts=clock(12),
                break_ends=clock(12, 30),
            )
        )
    ref = keys.day_reference(day, tz)
    run = m.PlanRun(
        region_id=region.id,
        day=day,
        kind="plan",
        status="published",
        published_at=datetime.now(UTC),
        summary={},
        stats={},
    )
    session.add(run)
    session.flush()
    session.add(m.PlanDay(region_id=region.id, day=day, current_run_id=run.id, published_at=run.published_at))
    left_out = max(1, visits // 20)
    per = (visits - left_out) // engineers
    n = 0
    for e in people:
        at = ref + timedelta(hours=8)
        for seq in range(per):
            n += 1
            arrive = at + timedelta(minutes=rng.randint(10, 30))
            wo = _visit(
                session,
                account.id,
                region.id,
                n,
                rng,
                priority="P3",
                status="scheduled",
                engineer_id=e.id,
                planned_start_at=arrive,
                eta_at=arrive,
                duration_min=45,
                sla_deadline_at=arrive + timedelta(hours=rng.choice([-1, 4, 24])),
            )
            session.add(
                m.PlanStop(
                    plan_run_id=run.id,
                    engineer_id=e.id,
                    seq=seq,
                    kind="job",
                    work_order_id=wo.id,
                    arrival_at=arrive,
                    start_at=arrive,
                    end_at=arrive + timedelta(minutes=45),
                    parts={},
                )
            )
            at = arrive + timedelta(minutes=45)
        session.add(
            m.PlanRoute(
                plan_run_id=run.id,
                engineer_id=e.id,
                departure_at=ref + timedelta(hours=8),
                return_at=at + timedelta(minutes=20),
                jobs=per,
            )
        )
    while n < visits:
        n += 1
        wo = _visit(
            session, account.id, region.id, n, rng, priority="P2", status="unscheduled", duration_min=60
        )
        session.add(
            m.PlanUnassigned(
                plan_run_id=run.id,
                work_order_id=wo.id,
                reason="no_capacity",
                detail="no engineer has time left",
            )
        )
    session.commit()
    return {"region_id": region.id, "day": day, "per_route": per, "left_out": visits - per * engineers}


def pick_moves(session: Any, *, region_id: int, count: int, seed: int) -> list[tuple[int, int]]:
    """`count` board drags as (work order, engineer): a visit on one engineer's route dropped onto
    another engineer's row, a different visit each while there are enough, the row at random."""
    from sqlalchemy import select

    from app import models as m

    rng = random.Random(seed)
    placed = session.execute(
        select(m.WorkOrder.id, m.WorkOrder.engineer_id)
        .where(m.WorkOrder.region_id == region_id, m.WorkOrder.engineer_id.is_not(None))
        .order_by(m.WorkOrder.id)
    ).all()
    rows = list(session.scalars(select(m.Engineer.id).where(m.Engineer.region_id == region_id)))
    rng.shuffle(placed)
    moves = []
    for i in range(count):
        work_order_id, engineer_id = placed[i % len(placed)]
        moves.append((work_order_id, rng.choice([e for e in rows if e != engineer_id])))
    return moves


def preview_move(session: Any, work_order_id: int, engineer_id: int, day: Any) -> str:
    """The planner's side of one move preview (what the page calls, without the page): 'ok', or
    'refused' when the move is answered with the reason it cannot be made (a 422 on the page)."""
    from app import models as m
    from app.planning import assign
    from app.platform.errors import AppError

    work_order = session.get_one(m.WorkOrder, work_order_id)
    try:
        assign.assign(
            session, work_order=work_order, engineer_id=engineer_id, day=day, dry_run=True, actor=None
        )
        outcome = "ok"
    except AppError:
        outcome = "refused"
    session.rollback()  # as the page does: a dry run writes nothing
    return outcome


def _counts(outcomes: list[Any]) -> str:
    return ", ".join(f"{k} x{n}" for k, n in sorted(collections.Counter(map(str, outcomes)).items()))


def _stats(name: str, values: list[float]) -> None:
    from plan_common import pct

    p50, p95 = statistics.median(values), pct(values, 0.95)
    print(f"{name:34s} p50 {p50:8.1f} ms  p95 {p95:8.1f} ms  max {max(values):8.1f} ms  (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--engineers", type=int, default=100)
    parser.add_argument("--visits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--moves",
        type=int,
        default=None,
        help="move previews to time, each a different move (default: --repeat)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="emptied at the start")
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    env = {
        "DATABASE_URL": args.database_url,
        "SECRET_KEY": "board-bench",
        "DEMO_MODE": "0",
        "TASK_ALWAYS_EAGER": "1",
        "SCHEDULER_ENABLED": "0",
    }
    os.environ.update(env)
    from plan_common import fresh_database, machine

    fresh_database(args.database_url, args.redis_url)
    from sqlalchemy.orm import Session

    from app.planning import board
    from app.platform.db import get_engine

    started = time.perf_counter()
    with Session(get_engine()) as s:
        world = build(s, engineers=args.engineers, visits=args.visits, seed=7)
    print(
        f"region written in {time.perf_counter() - started:.1f} s: "
        f"{args.engineers} engineers, {args.visits} visits"
    )

    times = []
    with Session(get_engine()) as s:
        board.board(s, region_id=world["region_id"], day=world["day"])
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            data = board.board(s, region_id=world["region_id"], day=world["day"])
            board.fingerprint(data)
            times.append((time.perf_counter() - t0) * 1000)
            s.rollback()
    _stats("board data in-process", times)

    # The move preview: one warm-up move, then `--moves` others, the same ones in both series.
    count = max(1, args.moves if args.moves is not None else args.repeat)
    with Session(get_engine()) as s:
        moves = pick_moves(s, region_id=world["region_id"], count=count + 1, seed=11)
    print(
        f"move preview day: {args.engineers} engineers, {args.engineers * world['per_route']} visits on "
        f"routes ({world['per_route']} each), {world['left_out']} left out; a preview solves two "
        f"engineers' days ({world['per_route'] + 1} and {world['per_route']} visits)"
    )
    times, outcomes = [], []
    with Session(get_engine()) as s:
        preview_move(s, *moves[0], world["day"])
        for work_order_id, engineer_id in moves[1:]:
            t0 = time.perf_counter()
            outcomes.append(preview_move(s, work_order_id, engineer_id, world["day"]))
            times.append((time.perf_counter() - t0) * 1000)
    print(f"move previews in-process: {_counts(outcomes)}")
    _stats("move preview in-process", times)

    import httpx

    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server's output, kept until exit
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise SystemExit("the server did not start:\n" + log.read().decode(errors="replace"))
            time.sleep(0.3)
        with httpx.Client(base_url=base, timeout=60) as c:
            token = c.post(
                "/api/v1/auth/token", data={"username": "dispatch@bench.example", "password": PASSWORD}
            ).json()["access_token"]
            c.cookies.set("fl_session", token)
            q = {"region": world["region_id"], "day": world["day"].isoformat()}
            r = c.get("/board/data", params=q)
            assert r.status_code == 200, r.text[:300]
            etag = r.headers["ETag"]
            times, polls = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                c.get("/board/data", params=q)
                times.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                assert c.get("/board/data", params=q, headers={"If-None-Match": etag}).status_code == 304
                polls.append((time.perf_counter() - t0) * 1000)
            _stats("GET /board/data (HTTP)", times)
            _stats("poll answered 304", polls)
            print(f"board data size: {len(r.content) / 1024:.0f} KiB")
            # the page a drag opens; 422 is a move refused with its reason (the visit cannot fit)
            previews, statuses = [], []
            for i, (work_order_id, engineer_id) in enumerate(moves):
                t0 = time.perf_counter()
                p = c.get(
                    f"/board/visits/{work_order_id}/reassign",
                    params={"engineer_id": engineer_id, "day": q["day"]},
                )
                assert p.status_code in (200, 422), f"move preview {p.status_code}: {p.text[:300]}"
                if i:  # moves[0] is the warm-up
                    previews.append((time.perf_counter() - t0) * 1000)
                    statuses.append(p.status_code)
            print(f"preview status {_counts(statuses)}")
            _stats("move preview (HTTP page)", previews)
        if not args.no_browser and Path("/usr/bin/chromium").exists():
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
                )
                ctx = browser.new_context(viewport={"width": 1400, "height": 950})
                ctx.add_cookies([{"name": "fl_session", "value": token, "url": base}])
                page = ctx.new_page()
                renders = []
                for _ in range(max(1, args.repeat // 4)):
                    page.goto(f"{base}/board?region={q['region']}&day={q['day']}")
                    page.wait_for_function(
                        f"document.querySelectorAll('.trow.engineer').length === {args.engineers}"
                    )
                    renders.append(page.evaluate("performance.now()"))
                browser.close()
            _stats("first render in Chromium", renders)
    finally:
        server.terminate()
        server.wait(timeout=15)
    print(f"machine: {machine()}")


if __name__ == "__main__":
    main()
