"""Overload curve of the desk API: what bounded admission does beyond the sustainable rate.

1. Finds the sustainable rate S with api_load.py's step search (the highest step at which every
   kind's p95 stays under 100 ms with at most 1 % errors), or takes `--sustainable`.
2. Offers `--factors` × S (default 0.5, 1, 1.5, 2, 2.5 ×) open loop, `--curve-duration` s each, and
   prints per rate: goodput (2xx per second), admitted p95 (every kind, and the worst kind),
   the latency of the refusals (503) and how many there were, other errors.
3. Checks the targets at 2 × S: goodput ≥ 90 % of S, admitted p95 < 100 ms, refusals p95 < 50 ms.

Same server, data and options as api_load.py (it starts `fieldline serve --workers N`):

    .venv/bin/python bench/overload.py --save /work/notes/bench-overload-$(date +%Y%m%d-%H%M).txt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # api_load.py next to this file

from api_load import KINDS, P95_LIMIT_MS, Result, main, pct, run, sayer, session, sustainable_rate  # noqa: E402

GOODPUT_SHARE = 0.9
REFUSED_P95_MS = 50.0
OVERLOAD_FACTOR = 2.0


def options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--sustainable", type=float, help="skip the step search and use this rate (req/s)")
    ap.add_argument(
        "--factors",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.5, 1.0, 1.5, OVERLOAD_FACTOR, 2.5],
        help="offered rates as multiples of the sustainable rate",
    )
    ap.add_argument("--curve-duration", type=float, default=30.0, help="seconds per point of the curve")


def row(res: Result) -> dict[str, float]:
    admitted = [v for kind in KINDS for v in res.latencies.get(kind, [])]
    refused = [v for kind in KINDS for v in res.refused.get(kind, [])]
    n_refused = len(refused)
    return {
        "offered": res.rate,
        "goodput": len(admitted) / res.duration,
        "admitted_p95": pct(admitted, 95),
        "worst_kind_p95": max((pct(v, 95) for v in res.latencies.values() if v), default=float("nan")),
        "refused_p95": pct(refused, 95),
        "refused": n_refused,
        "other_errors": sum(res.errors.values()) - n_refused,
    }


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:.1f}ms"  # NaN: nothing was refused


async def overload(args: argparse.Namespace, out: list[str]) -> None:
    say = sayer(out)
    async with session(args, say) as (client, material, rng):
        sustainable = args.sustainable or await sustainable_rate(client, material, rng, args, say)
        if not sustainable:
            say("no sustainable rate found: nothing to overload")
            return
        rows = []
        for factor in args.factors:
            res = await run(client, material, factor * sustainable, args.curve_duration, rng)
            say(res.report(f"curve {factor:g} x {sustainable:g} req/s"))
            rows.append((factor, row(res)))
        say(
            f"\noverload curve (sustainable rate S = {sustainable:g} req/s, "
            f"{args.curve_duration:g} s per point)"
        )
        say(
            f"  {'x S':>5s} {'offered/s':>10s} {'goodput/s':>10s} {'admit p95':>10s} {'worst kind':>10s} "
            f"{'503 p95':>9s} {'503s':>6s} {'other err':>9s}"
        )
        for factor, r in rows:
            say(
                f"  {factor:5.2f} {r['offered']:10.1f} {r['goodput']:10.1f} {r['admitted_p95']:8.1f}ms "
                f"{r['worst_kind_p95']:8.1f}ms {_ms(r['refused_p95']):>9s} {r['refused']:6.0f} "
                f"{r['other_errors']:9.0f}"
            )
        at_2x = [r for factor, r in rows if factor == OVERLOAD_FACTOR]
        if not at_2x:
            return
        r = at_2x[0]
        checks = [
            (f"goodput ≥ {GOODPUT_SHARE:.0%} of S", r["goodput"] >= GOODPUT_SHARE * sustainable),
            (f"admitted p95 < {P95_LIMIT_MS:.0f} ms (worst kind)", r["worst_kind_p95"] < P95_LIMIT_MS),
            (
                f"refused p95 < {REFUSED_P95_MS:.0f} ms",
                r["refused"] == 0 or r["refused_p95"] < REFUSED_P95_MS,
            ),
            ("no other errors", r["other_errors"] == 0),
        ]
        say(f"at {OVERLOAD_FACTOR:g} x S = {OVERLOAD_FACTOR * sustainable:g} req/s:")
        for name, ok in checks:
            say(f"  {'PASS' if ok else 'FAIL'}  {name}")


if __name__ == "__main__":
    main(overload, __doc__, options)
