"""Reading a CRM CSV file: encoding, separator, header check, and cells → values per record.

Line numbers are those of the file (the header is line 1; a quoted cell may span lines, a
record is reported by the line it starts on).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, BinaryIO

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


def as_binary(data: bytes | str | BinaryIO) -> BinaryIO:
    """The file as a seekable binary stream (an upload spooled to disk, an open file, bytes)."""
    if isinstance(data, str):
        return io.BytesIO(data.encode("utf-8"))
    if isinstance(data, bytes):
        return io.BytesIO(data)
    return data


def delimiter(header_line: str) -> str:
    # Spreadsheets in German locales write ';'; pick whichever separator the header uses most.
    return max(",;\t", key=header_line.count)


def records(binary: BinaryIO) -> Generator[tuple[int, list[str]], None, None]:
    """(first line number, cells) of each record, read from the start of `binary` as it goes.

    Holds one record at a time (csv's field limit bounds a cell); quoted cells may span lines.
    """
    binary.seek(0)
    # newline="": csv sees the line ends as written (a quoted cell keeps its own line breaks).
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        first_line = text.readline()
        # strict: a quote left open ('QA-12,"unterminated') is an error, not a cell that swallows the
        # rest of the file, nor a name "unterminated" imported without a word (docs/import.md)
        reader = csv.reader(
            itertools.chain((first_line,), text), delimiter=delimiter(first_line), strict=True
        )
        start = 1
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"The file is not UTF-8 text (byte {_first_bad_byte(binary)}); export it as CSV UTF-8.",
            errors=[{"field": "file", "message": "not UTF-8"}],
        ) from exc
    except csv.Error as exc:
        raise ImportFileError(
            f"line {reader.line_num}: the CSV cannot be read: {exc}",
            errors=[{"field": "file", "message": str(exc)}],
        ) from exc
    finally:
        if not binary.closed:
            text.detach()  # the caller owns `binary` (and reads it again)


def _first_bad_byte(binary: BinaryIO) -> int:
    """Offset of the first byte that is not UTF-8 (the text reader only knows its chunk's)."""
    binary.seek(0)
    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    while chunk := binary.read(1 << 16):
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return offset - len(decoder.getstate()[0]) + exc.start
        offset += len(chunk)
    return offset


def is_blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def check_file(binary: BinaryIO, entity: str, max_rows: int) -> list[str]:
    """Read the whole file once, holding one record at a time, before anything is written.

    Everything that rejects a file as a whole (encoding, CSV syntax, header, too many rows) is
    found here, so a bad byte at 40 MB still imports nothing, as when the file was read at once.
    Returns the header's column names.
    """
    with contextlib.closing(records(binary)) as rows_in:
        first = next(rows_in, None)
        if first is None or is_blank(first[1]):
            raise ImportFileError(
                "The file is empty; the first line must name the columns.",
                errors=[{"field": "header", "message": "missing"}],
            )
        header = header_of(entity, first[1])
        rows = sum(1 for _, cells in rows_in if not is_blank(cells))
    if rows > max_rows:
        raise ImportFileError(f"More than {max_rows} rows; split the file.")
    return header


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
