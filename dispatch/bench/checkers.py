"""Default data paths and the independent checkers from ../shared/tools, loaded by path.

The checkers are the judges: the benchmark never scores a solution with its own arithmetic.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FIELDLINE_SHARED", REPO_ROOT.parent / "shared"))
VRPTW_DIR = SHARED / "benchmarks" / "vrptw"
VRPTW_BKS = VRPTW_DIR / "bks_distance_only.csv"
FSR_DIR = SHARED / "benchmarks" / "fsr"
VRPTW_CHECKER = SHARED / "tools" / "vrptw_check.py"
FSR_TOOL = SHARED / "tools" / "fsr.py"


@cache
def _load(path: Path) -> ModuleType:
    if not path.is_file():
        raise FileNotFoundError(f"checker not found: {path} (set FIELDLINE_SHARED)")
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vrptw_check(instance_file: Path, routes: list[list[int]]) -> tuple[float, list[str]]:
    """(distance, errors) from the shared VRPTW checker for one solution."""
    mod = _load(VRPTW_CHECKER)
    result: tuple[float, list[str]] = mod.check(mod.parse_solomon(Path(instance_file)), routes)
    return result


def fsr_check(instance: dict[str, Any], solution: dict[str, Any]) -> dict[str, Any]:
    """The shared fsr checker's verdict dict (feasible, unserved_weight, travel_km, ...)."""
    verdict: dict[str, Any] = _load(FSR_TOOL).check(instance, solution)
    return verdict


def fsr_generate(jobs: int, engineers: int, seed: int, **kw: object) -> dict[str, Any]:
    """A deterministic fsr/1 instance from the shared generator."""
    instance: dict[str, Any] = _load(FSR_TOOL).generate(jobs, engineers, seed, **kw)
    return instance


def run_vrptw_checker(results: Path, instance_dir: Path, bks: Path | None) -> tuple[int, str]:
    """Run the VRPTW checker as its own process on a results file: (exit code, output)."""
    cmd = [sys.executable, str(VRPTW_CHECKER), str(results), str(instance_dir)]
    if bks is not None:
        cmd += ["--bks", str(bks)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr
