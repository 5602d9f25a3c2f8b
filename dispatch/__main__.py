"""python -m dispatch solve INSTANCE.json --time-limit 10 --out solution.json"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

from . import fsr_io
from .engine import solve

STARTED = time.monotonic()  # the time limit counts from here: start-up and reading count too


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dispatch", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("solve", help="solve an fsr/1 instance, write an fsr-solution/1 file")
    sp.add_argument("instance")
    sp.add_argument("--time-limit", type=float, default=10.0, help="wall-clock seconds")
    sp.add_argument("--out", default="-", help="solution file (default: stdout)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--workers", type=int, default=None, help="solver processes (default 2)")
    sp.add_argument("--deterministic", action="store_true", help="one worker, reproducible")
    sp.add_argument("--solution-limit", type=int, default=None)
    sp.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        problem, provider = fsr_io.load(args.instance)
    except (OSError, ValueError, KeyError, TypeError) as exc:
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
        with open(args.out, "w") as f:
            f.write(text + "\n")
    problems = plan.violations()
    print(plan.summary().splitlines()[0], f"({time.monotonic() - STARTED:.1f} s)", file=sys.stderr)
    for p in problems[:10]:
        print("  SELF-CHECK:", p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
