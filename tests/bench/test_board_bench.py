"""bench/board.py's move preview times real board drags and writes nothing: each move is a visit
on a route dropped on another engineer's row (a different visit each), and the planner's preview
of one answers and is rolled back, as the page does."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Engineer, PlanRun, WorkOrder

ROOT = Path(__file__).resolve().parents[2]


def _board_bench() -> ModuleType:
    """bench/board.py as a module; the sys.path entries it adds for its own run are taken back."""
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location("board_bench", ROOT / "bench" / "board.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module


def test_the_timed_moves_are_drags_onto_another_row_and_write_nothing(db: Session) -> None:
    bench = _board_bench()
    world = bench.build(db, engineers=3, visits=20, seed=7)
    region_id = world["region_id"]
    assert (world["per_route"], world["left_out"]) == (6, 2)  # (20 - 1 left out) // 3 per route
    moves = bench.pick_moves(db, region_id=region_id, count=6, seed=11)
    placed = dict(
        db.execute(select(WorkOrder.id, WorkOrder.engineer_id).where(WorkOrder.region_id == region_id))
        .tuples()
        .all()
    )
    assert len(moves) == 6 and len({wo for wo, _ in moves}) == 6  # a different visit each
    for wo, to in moves:
        assert placed[wo] is not None and to != placed[wo]  # on a route, dropped on another row
        assert db.get_one(Engineer, to).region_id == region_id

    runs = db.scalar(select(func.count()).select_from(PlanRun))
    wo, to = moves[0]
    assert bench.preview_move(db, wo, to, world["day"]) == "ok"
    assert db.scalar(select(func.count()).select_from(PlanRun)) == runs
    assert db.get_one(WorkOrder, wo).engineer_id == placed[wo]
