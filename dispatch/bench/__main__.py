"""Benchmarks for the dispatch engine; not part of the test suite.

python -m dispatch.bench vrptw [--time-limit 10] [--out results.json] [--peers] [FILE...]
python -m dispatch.bench fsr [--time-limit 10] [--peers] [FILE...]
python -m dispatch.bench scale [--out-dir bench/out] [--sizes 100,200,500,1000]
python -m dispatch.bench replan [--emergencies 50]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from dispatch.bench.checkers import FSR_DIR, REPO_ROOT, VRPTW_BKS, VRPTW_DIR

DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "out"


def _files(given: list[Path], folder: Path, suffix: str) -> list[Path]:
    if given:
        missing = [p for p in given if not p.is_file()]
        if missing:
            raise SystemExit(f"no such file: {', '.join(map(str, missing))}")
        return given
    if not folder.is_dir():
        raise SystemExit(f"no instances given and {folder} does not exist")
    return sorted((p for p in folder.iterdir() if p.suffix == suffix and p.is_file()), key=_natural)


def _natural(path: Path) -> list[object]:
    """munich-200-... before munich-1000-...: digit runs compare as numbers."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dispatch.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    v = sub.add_parser("vrptw", help="Solomon VRPTW instances against VROOM, PyVRP, OR-Tools")
    v.add_argument("files", nargs="*", type=Path, help=f"Solomon files (default: {VRPTW_DIR})")
    v.add_argument("--time-limit", type=_positive, default=10.0, help="seconds per solver")
    v.add_argument("--out", type=Path, help="engine results JSON; peers go to OUT.<peer>.json")
    v.add_argument("--peers", action="store_true", help="also run VROOM, PyVRP and OR-Tools")
    v.add_argument("--bks", type=Path, default=VRPTW_BKS, help="best-known distances CSV")

    f = sub.add_parser("fsr", help="field-service days against VROOM and a greedy baseline")
    f.add_argument("files", nargs="*", type=Path, help=f"fsr/1 instances (default: {FSR_DIR})")
    f.add_argument("--time-limit", type=_positive, default=10.0, help="seconds per solver")
    f.add_argument("--peers", action="store_true", help="also run VROOM and the greedy baseline")
    f.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT_DIR / "fsr", help="where solutions are written"
    )

    s = sub.add_parser("scale", help="time and quality from 100 to 1000 jobs")
    s.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="table and PNG here")
    s.add_argument("--sizes", default="100,200,500,1000", help="job counts (engineers = jobs/10)")
    s.add_argument("--limits", default="2,10,30,60", help="time limits to report, seconds")

    r = sub.add_parser("replan", help="emergency insertion latency and moved appointments")
    r.add_argument("--emergencies", type=int, default=50)
    r.add_argument("--jobs", type=int, default=200)
    r.add_argument("--engineers", type=int, default=20)
    r.add_argument("--seed", type=int, default=11)
    r.add_argument("--time-limit", type=_positive, default=10.0, help="initial plan, seconds")
    r.add_argument("--replan-limit", type=_positive, default=1.0, help="per emergency, seconds")
    r.add_argument("--slot-min", type=int, default=120, help="promised arrival slot, minutes")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "vrptw":
        from dispatch.bench import vrptw

        files = _files(args.files, VRPTW_DIR, ".txt")
        return vrptw.main(files, args.time_limit, args.out, args.peers, args.bks)
    if args.command == "fsr":
        from dispatch.bench import fsr

        files = _files(args.files, FSR_DIR, ".json")
        return fsr.main(files, args.time_limit, args.peers, args.out_dir)
    if args.command == "scale":
        from dispatch.bench import scale

        sizes = [int(x) for x in args.sizes.split(",") if x]
        limits = [float(x) for x in args.limits.split(",") if x]
        return scale.main(sizes, limits, args.out_dir)
    from dispatch.bench import replan

    return replan.main(
        args.jobs,
        args.engineers,
        args.emergencies,
        args.seed,
        args.time_limit,
        replan_limit=args.replan_limit,
        slot_s=args.slot_min * 60,
    )


if __name__ == "__main__":
    sys.exit(main())
