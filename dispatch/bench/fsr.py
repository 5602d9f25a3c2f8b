"""`python -m dispatch.bench fsr`: field-service days, the engine against VROOM and a greedy baseline.

Every solution is written to the output folder and judged by the shared ``fsr.py check``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dispatch.bench import machine
from dispatch.bench.checkers import fsr_check
from dispatch.bench.fsr_peers import jobs_using_pickups, solve_greedy, solve_vroom
from dispatch.bench.report import table

FsrRunner = Callable[[dict[str, Any], float], dict[str, Any]]


@dataclass
class FsrResult:
    solver: str
    instance: str
    verdict: dict[str, Any]
    seconds: float
    pickup_jobs: int

    @property
    def feasible(self) -> bool:
        return bool(self.verdict.get("feasible"))

    def key(self) -> tuple[bool, int, float]:
        """The format's score order: feasible first, then unserved weight, then travel."""
        return (not self.feasible, self.verdict["unserved_weight"], self.verdict["travel_km"])


def without_warehouses(inst: dict[str, Any]) -> dict[str, Any]:
    return {**inst, "warehouses": []}


def solvers(peers: bool) -> dict[str, FsrRunner]:
    from dispatch.bench.engine import solve_fsr

    out: dict[str, FsrRunner] = {
        "engine": solve_fsr,
        "engine-no-wh": lambda inst, limit: solve_fsr(without_warehouses(inst), limit),
    }
    if peers:
        out["vroom"] = solve_vroom
        out["greedy"] = lambda inst, limit: solve_greedy(inst)
    return out


def run_one(name: str, runner: FsrRunner, inst: dict[str, Any], limit: float, out_dir: Path) -> FsrResult:
    started = time.perf_counter()
    try:
        solution = runner(inst, limit)
    except Exception as exc:  # a crash is an unsolved day for that solver, not a crashed bench
        solution = {"format": "fsr-solution/1", "routes": []}
        verdict = {
            "feasible": False,
            "errors": [f"{type(exc).__name__}: {exc}"],
            "served": 0,
            "jobs": len(inst["jobs"]),
            "unserved_weight": None,
            "travel_km": None,
            "served_by_priority": {},
        }
        return FsrResult(name, inst["name"], verdict, time.perf_counter() - started, 0)
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{inst['name']}.{name}.json").write_text(json.dumps(solution, indent=1))
    # Always judged against the full instance, warehouses included.
    verdict = fsr_check(inst, solution)
    return FsrResult(name, inst["name"], verdict, seconds, jobs_using_pickups(inst, solution))


def verdict_line(results: dict[str, FsrResult]) -> str:
    eng, peer = results.get("engine"), results.get("vroom")
    if eng is None or peer is None:
        return ""
    if not eng.feasible:
        return "engine INFEASIBLE"
    ew, pw = eng.verdict["unserved_weight"], peer.verdict["unserved_weight"]
    if not peer.feasible or ew < pw:
        return "target met (less unserved weight than VROOM)"
    if ew == pw:
        ok = eng.verdict["travel_km"] <= peer.verdict["travel_km"]
        return "target met (same weight, travel <= VROOM)" if ok else "target MISSED (travel)"
    return "target MISSED (unserved weight)"


def main(files: list[Path], time_limit: float, peers: bool, out_dir: Path) -> int:
    print(machine.header(f"fsr, {len(files)} instances, {time_limit:g} s per solver"))
    rows: list[list[object]] = []
    verdicts: list[tuple[str, str]] = []
    all_ok = True
    for path in files:
        inst = json.loads(path.read_text())
        results: dict[str, FsrResult] = {}
        for name, runner in solvers(peers).items():
            res = run_one(name, runner, inst, time_limit, out_dir)
            results[name] = res
            v = res.verdict
            rows.append(
                [
                    res.instance,
                    name,
                    "ok" if res.feasible else "INFEASIBLE",
                    f"{v['served']}/{v['jobs']}",
                    v["unserved_weight"],
                    v["travel_km"],
                    " ".join(f"P{p}:{s}" for p, s in v.get("served_by_priority", {}).items()),
                    res.pickup_jobs,
                    res.seconds,
                ]
            )
            errors = "; ".join(v.get("errors", [])[:2])
            print(
                f"{res.instance} {name}: {'ok' if res.feasible else 'INFEASIBLE ' + errors} "
                f"weight={v['unserved_weight']} km={v['travel_km']} {res.seconds:.1f}s",
                flush=True,
            )
        all_ok &= results["engine"].feasible
        line = verdict_line(results)
        if line:
            verdicts.append((inst["name"], line))
    print()
    print(
        table(
            [
                "instance",
                "solver",
                "checker",
                "served",
                "unserved wt",
                "travel km",
                "served by priority",
                "jobs w/ pickup",
                "seconds",
            ],
            rows,
            digits=1,
        )
    )
    if verdicts:
        print()
        for name, line in verdicts:
            print(f"{name}: {line}")
    print(machine.footer())
    return 0 if all_ok else 1
