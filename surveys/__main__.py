"""python -m surveys kpis ANSWERS.jsonl [--group-by region] [--period month --tz Europe/Berlin]
python -m surveys drivers ANSWERS.jsonl [--facts late,repeat_visit]

Reads answers as JSON Lines (see surveys/records.py), prints JSON. Bad input: exit 2, the line
number on stderr. A key that is neither a question, facts, answered_at nor grouped by (--group-by)
is ignored with a warning on stderr naming it and its first line (a misspelled "cast" is not csat).
Output that cannot be written (a full disk): exit 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import kpis
from .drivers import RatedVisit, driver_effects
from .periods import period_of
from .records import AnswerRecord, BadRecord, meant, read_jsonl


def _decoded(raw: Iterable[bytes]) -> Iterator[str]:
    """UTF-8 lines (the byte-order mark is read_jsonl's), naming the line that is not UTF-8."""
    for number, line in enumerate(raw, start=1):
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRecord(number, "not UTF-8 text") from None


def _load(path: str) -> list[AnswerRecord]:
    if path == "-":
        return list(read_jsonl(_decoded(sys.stdin.buffer)))
    with open(path, "rb") as f:
        return list(read_jsonl(_decoded(f)))


def _warn_unused(source: str, records: Sequence[AnswerRecord], used: Sequence[str]) -> None:
    """One warning per key that no figure reads, at its first line: a typo must not pass silently."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for r in records:
        for k in r.keys:
            if k not in used:
                first.setdefault(k, r.line)
                count[k] = count.get(k, 0) + 1
    for k, line in first.items():
        more = f", and on {count[k] - 1} more line(s)" if count[k] > 1 else ""
        hint = f" (did you mean {m!r}?)" if (m := meant(k)) else ""
        print(
            f"warning: {source}:line {line}: key {k!r} ignored: not a question, facts, answered_at "
            f"or a --group-by key{hint}{more}",
            file=sys.stderr,
        )


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
    ap = argparse.ArgumentParser(
        prog="python -m surveys", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
    except BadRecord as exc:
        print(f"{args.answers}:{exc}", file=sys.stderr)
        return 2
    _warn_unused(args.answers, records, args.group_by if args.cmd == "kpis" else ())
    return _write(json.dumps(result, indent=1, ensure_ascii=False) + "\n")


def _write(text: str) -> int:
    """Print ``text``; a full disk or a closed pipe is one line on stderr and exit 1, no traceback."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # what is still buffered would fail again at exit, with a traceback; not a real file: tests
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if not isinstance(exc, BrokenPipeError):  # `| head`: the reader has what it wanted
            print(f"cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
