"""python -m surveys kpis ANSWERS.jsonl [--group-by region] [--period month --tz Europe/Berlin]
python -m surveys drivers ANSWERS.jsonl [--facts late,repeat_visit]

Reads answers as JSON Lines (see surveys/records.py), prints JSON. Bad input: exit 2, the line
number on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import kpis
from .drivers import RatedVisit, driver_effects
from .periods import period_of
from .records import AnswerRecord, BadRecord, read_jsonl


def _load(path: str) -> list[AnswerRecord]:
    if path == "-":
        return list(read_jsonl(iter(sys.stdin)))
    with open(path, encoding="utf-8") as f:
        return list(read_jsonl(iter(f)))


def _survey_kpis(records: Sequence[AnswerRecord]) -> dict[str, object]:
    answers = [r.answer for r in records]
    return {
        "answers": len(answers),
        "csat": kpis.csat(answers).as_dict(),
        "csat_mean": kpis.csat_mean(answers).as_dict(),
        "nps": kpis.nps(answers).as_dict(),
        "ces": kpis.ces(answers).as_dict(),
        "solved": kpis.solved_rate(answers).as_dict(),
        "detractors": kpis.detractor_rate(answers).as_dict(),
    }


def _kpis(args: argparse.Namespace, records: list[AnswerRecord]) -> object:
    groups: dict[tuple[str, ...], list[AnswerRecord]] = {}
    for r in records:
        dims: list[str] = []
        if args.period:
            if r.answered_at is None:
                raise BadRecord(r.line, "answered_at is needed to group by period")
            dims.append(period_of(r.answered_at, args.period, args.tz).label)
        dims.extend(r.keys.get(k, "(none)") for k in args.group_by)
        groups.setdefault(tuple(dims), []).append(r)
    names = (["period"] if args.period else []) + list(args.group_by)
    return [
        {"group": dict(zip(names, dims, strict=True)), **_survey_kpis(rows)}
        for dims, rows in sorted(groups.items())
    ]


def _drivers(args: argparse.Namespace, records: list[AnswerRecord]) -> object:
    rows = []
    for r in records:
        if r.answer.csat is None:
            raise BadRecord(r.line, "drivers need a CSAT rating on every answer")
        rows.append(RatedVisit(r.answer.csat, r.facts))
    facts = [f.strip() for f in args.facts.split(",") if f.strip()] if args.facts else None
    return [e.as_dict() for e in driver_effects(rows, facts)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m surveys", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    kp = sub.add_parser("kpis", help="CSAT, NPS, CES, solved and detractor rates, each with n")
    kp.add_argument("answers", help="JSON Lines file, or - for stdin")
    kp.add_argument("--group-by", action="append", default=[], help="a key field; repeatable")
    kp.add_argument("--period", choices=("day", "week", "month"), help="also group by local period")
    kp.add_argument("--tz", default="UTC", help="IANA time zone for --period (default UTC)")
    dp = sub.add_parser("drivers", help="mean CSAT with vs without each visit fact, ranked")
    dp.add_argument("answers", help="JSON Lines file, or - for stdin")
    dp.add_argument("--facts", help="comma-separated facts to compare (default: all found)")
    args = ap.parse_args(argv)
    if args.cmd == "kpis":
        try:
            ZoneInfo(args.tz)
        except (ZoneInfoNotFoundError, ValueError):
            print(f"unknown time zone {args.tz!r}", file=sys.stderr)
            return 2
    try:
        records = _load(args.answers)
        result = _kpis(args, records) if args.cmd == "kpis" else _drivers(args, records)
    except OSError as exc:
        print(f"cannot read {args.answers}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"cannot read {args.answers}: not UTF-8 text", file=sys.stderr)
        return 2
    except BadRecord as exc:
        print(f"{args.answers}:{exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
