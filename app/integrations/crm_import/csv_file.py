"""Reading a CRM CSV file: encoding, separator, header check, and cells → values per record.

Line numbers are those of the file (the header is line 1; a quoted cell may span lines, a
record is reported by the line it starts on).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.integrations.crm_import.fields import COLUMNS, Column
from app.platform.errors import Unprocessable


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"line {self.line}: {self.field}: {self.message}"
            if self.field
            else f"line {self.line}: {self.message}"
        )


class ImportFileError(Unprocessable):
    """The file as a whole cannot be read (encoding, header): nothing was imported."""

    title = "Import file rejected"


Values = dict[str, Any]


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {exc.start}); export it as CSV UTF-8.",
            errors=[{"field": "file", "message": "not UTF-8"}],
        ) from exc


def delimiter(header_line: str) -> str:
    # Spreadsheets in German locales write ';'; pick whichever separator the header uses most.
    return max(",;\t", key=header_line.count)


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of each record; quoted cells may span lines."""
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(first_line))
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ImportFileError(
            f"line {reader.line_num}: the CSV cannot be read: {exc}",
            errors=[{"field": "file", "message": str(exc)}],
        ) from exc


def header_of(entity: str, cells: list[str]) -> list[str]:
    names = [c.strip().lower() for c in cells]
    known = {c.name for c in COLUMNS[entity]}
    problems = []
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}")
    missing = [c.name for c in COLUMNS[entity] if c.required and c.name not in names]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        problems.append(f"column(s) given twice: {', '.join(doubled)}")
    if problems:
        raise ImportFileError(
            f"line 1: {'; '.join(problems)}. {entity}.csv columns are: "
            f"{', '.join(c.name for c in COLUMNS[entity])} (see docs/import.md).",
            errors=[{"field": "header", "message": p} for p in problems],
        )
    return names


def parse_row(
    line: int, cells: list[str], header: list[str], spec: dict[str, Column]
) -> tuple[Values, list[RowError]]:
    if len(cells) != len(header):
        return {}, [RowError(line, "", f"expected {len(header)} fields, found {len(cells)}")]
    values: Values = {}
    errors = []
    for name, raw in zip(header, cells, strict=True):
        col, cell = spec[name], raw.strip()
        if not cell:
            if col.required:
                errors.append(RowError(line, name, "required"))
            values[name] = col.default
            continue
        try:
            values[name] = col.parse(cell)
        except ValueError as exc:
            errors.append(RowError(line, name, str(exc)))
    return values, errors
