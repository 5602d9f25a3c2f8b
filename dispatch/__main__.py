"""python -m dispatch solve INSTANCE.json --time-limit 10 --out solution.json"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from . import fsr_io
from .engine import solve

STARTED = time.monotonic()  # the time limit counts from here: start-up and reading count too

MAX_TIME_LIMIT_S = 3600.0
MAX_WORKERS = 64
MAX_SEED = 2**31 - 1
MAX_SOLUTION_LIMIT = 10**9


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (no usage dump), exit status 2."""

    def error(self, message: str) -> NoReturn:
        # "argument --seed: must be ..." (argparse's wording of our type errors) -> "--seed must be ..."
        if message.startswith("argument --") and ": must be " in message:
            message = message.removeprefix("argument ").replace(": must be ", " must be ", 1)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _time_limit(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and 0 < v <= MAX_TIME_LIMIT_S):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds > 0 and ≤ {MAX_TIME_LIMIT_S:g}, got {text!r}"
        )
    return v


def _int_in(lo: int, hi: int, desc: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            v = lo - 1
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be {desc}, got {text!r}")
        return v

    return parse


def _out_problem(out: str) -> str | None:
    """Why the solution cannot be written to ``out`` (checked before a long solve), or None."""
    if out == "-":
        return None
    if os.path.isdir(out):
        return "is a directory"
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        return f"directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        return "permission denied"
    return None


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="python -m dispatch", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("solve", help="solve an fsr/1 instance, write an fsr-solution/1 file")
    sp.add_argument("instance")
    sp.add_argument(
        "--time-limit",
        type=_time_limit,
        default=10.0,
        help=f"wall-clock seconds, > 0 and ≤ {MAX_TIME_LIMIT_S:g}",
    )
    sp.add_argument("--out", default="-", help="solution file (default: stdout)")
    sp.add_argument("--seed", type=_int_in(0, MAX_SEED, f"an integer 0..{MAX_SEED}"), default=0)
    sp.add_argument(
        "--workers",
        type=_int_in(1, MAX_WORKERS, f"an integer 1..{MAX_WORKERS}"),
        default=None,
        help="solver processes (default 2)",
    )
    sp.add_argument("--deterministic", action="store_true", help="one worker, reproducible")
    sp.add_argument(
        "--solution-limit",
        type=_int_in(1, MAX_SOLUTION_LIMIT, "an integer ≥ 1"),
        default=None,
    )
    sp.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    why = _out_problem(args.out)
    if why:
        print(f"cannot write --out {args.out}: {why}", file=sys.stderr)
        return 2
    try:
        problem, provider = fsr_io.load(args.instance)
    except (OSError, ValueError, KeyError, TypeError, OverflowError) as exc:
        print(f"cannot read {args.instance}: {exc}", file=sys.stderr)
        return 2
    settings = problem.settings
    if args.workers is not None:
        settings = replace(settings, workers=args.workers)
    if args.deterministic:
        settings = replace(settings, deterministic=True)
    problem = replace(problem, settings=settings)

    def progress(t: float, obj: int) -> None:
        if not args.quiet:
            print(f"  {t:6.2f}s objective {obj}", file=sys.stderr)

    plan = solve(
        problem,
        time_limit=max(0.1, args.time_limit - (time.monotonic() - STARTED)),
        seed=args.seed,
        solution_limit=args.solution_limit,
        provider=provider,
        progress=progress,
    )
    text = json.dumps(fsr_io.solution(plan, problem.name), indent=1)
    if args.out == "-":
        print(text)
    else:
        try:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        except OSError as exc:
            print(f"cannot write --out {args.out}: {exc}", file=sys.stderr)
            return 2
    problems = plan.violations()
    print(plan.summary().splitlines()[0], f"({time.monotonic() - STARTED:.1f} s)", file=sys.stderr)
    for p in problems[:10]:
        print("  SELF-CHECK:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
