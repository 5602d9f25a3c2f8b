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
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, BinaryIO

from app.integrations.crm_import.fields import COLUMNS, Column, columns
from app.platform.errors import Unprocessable
from app.platform.inputs import problem_with


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


# Excel reads a first line `sep=;` as the separator of the file and does not show it; tools that
# write CSV for Excel add it. It declares the separator and is no header. (A bad byte there is no
# separator: the line is then read as the header, and the byte reported.)
_SEP_LINE = re.compile('sep=([^\r\n"\udc80-\udcff])\r?\n?', re.IGNORECASE)
# A byte that is not UTF-8, as the "surrogateescape" decoder keeps it (U+DC80..U+DCFF): no UTF-8
# text decodes to these, so finding one in a cell is finding the bad byte, and the record it is
# in gives its line and column.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
SNIFF_BYTES = 4096  # the start of the file checked for UTF-16 and UTF-32
UTF16 = "The file is UTF-16 (Excel’s “Unicode Text”), not UTF-8; save it as “CSV UTF-8” and import it again."
UTF32 = "The file is UTF-32, not UTF-8; save it as “CSV UTF-8” and import it again."


def records(binary: BinaryIO) -> Generator[tuple[int, list[str]], None, None]:
    """(first line number, cells) of each record, read from the start of `binary` as it goes.

    Holds one record at a time (csv's field limit bounds a cell); quoted cells may span lines.
    A first line `sep=;` sets the separator and is skipped (the header is then line 2).
    """
    wide = _wide_encoding(binary)
    if wide is not None:
        said = UTF32 if wide == "UTF-32" else UTF16
        raise ImportFileError(said, errors=[{"field": "file", "message": f"{wide}, not UTF-8"}])
    binary.seek(0)
    # newline="": csv sees the line ends as written (a quoted cell keeps its own line breaks).
    # surrogateescape: a bad byte reaches the record it is in, which names its line and column.
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", errors="surrogateescape", newline="")
    try:
        # Some tools add a BOM to a file that has one already; no BOM is data.
        first_line = text.readline().lstrip("\ufeff")
        declared, skipped = _SEP_LINE.fullmatch(first_line), 0
        if declared:
            first_line, skipped = text.readline().lstrip("\ufeff"), 1
        # strict: a quote left open ('QA-12,"unterminated') is an error, not a cell that swallows the
        # rest of the file, nor a name "unterminated" imported without a word (docs/import.md)
        reader = csv.reader(
            itertools.chain((first_line,), text),
            delimiter=declared.group(1) if declared else delimiter(first_line),
            strict=True,
        )
        start, header = 1 + skipped, None
        for cells in reader:
            if _NOT_UTF8.search("".join(cells)):
                raise _not_utf8(start, cells, header)
            header = cells if header is None else header
            yield start, cells
            start = reader.line_num + 1 + skipped
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _cell_too_long(start) from exc
        raise ImportFileError(
            f"line {reader.line_num + skipped}: the CSV cannot be read: {exc}",
            errors=[{"field": "file", "message": str(exc)}],
        ) from exc
    finally:
        if not binary.closed:
            text.detach()  # the caller owns `binary` (and reads it again)


def _cell_too_long(start: int) -> ImportFileError:
    """csv's field limit (131 072 characters) reached by the record starting at line ``start``. Kept,
    not raised: the longest column takes 5 000 characters (access_notes), so no CRM export needs
    more, and the limit bounds what one record holds in memory. The likely cause is a quote opened
    and never closed, which reads the rest of the file as one cell."""
    limit = f"{csv.field_size_limit():,}".replace(",", " ")
    return ImportFileError(
        f"line {start}: a cell is longer than {limit} characters (a quote opened there and never "
        "closed reads the rest of the file as one cell).",
        errors=[{"field": "file", "message": f"a cell is longer than {limit} characters"}],
    )


def _wide_encoding(binary: BinaryIO) -> str | None:
    """ "UTF-32" or "UTF-16" by a BOM, or (without one) by NULs in a fixed place of every 4 or 2
    bytes (ASCII text written so); None for anything else (then read as UTF-8)."""
    binary.seek(0)
    head = binary.read(SNIFF_BYTES)
    # UTF-32 first: its little-endian BOM (FF FE 00 00) starts with UTF-16's (FF FE). Neither is
    # ever UTF-8's first bytes.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "UTF-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    if _nul_lanes(head, 4) == 3:
        return "UTF-32"
    if _nul_lanes(head, 2) == 1:
        return "UTF-16"
    return None


def _nul_lanes(head: bytes, width: int) -> int:
    """How many byte positions of each `width`-byte unit hold a NUL in at least half of the units,
    when the others hold one in at most a tenth (0 when there is no such pattern). ASCII text in
    UTF-16 has 1 such lane of 2, in UTF-32 3 of 4."""
    units = len(head) // width
    if units < 8:  # too short to tell a pattern from a stray NUL
        return 0
    zeros = [head[lane : width * units : width].count(0) for lane in range(width)]
    mostly = [z >= units // 2 for z in zeros]
    if all(mostly) or not all(m or z <= units // 10 for m, z in zip(mostly, zeros, strict=True)):
        return 0
    return sum(mostly)


def _not_utf8(start: int, cells: list[str], header: list[str] | None) -> ImportFileError:
    """The first bad byte of a record, by line, column and the text around it (what a person
    finds in an editor or a spreadsheet; a byte offset they cannot)."""
    line = start
    for i, cell in enumerate(cells):
        found = _NOT_UTF8.search(cell)
        if found is None:
            line += cell.count("\n")  # a quoted cell's own line breaks
            continue
        line += cell.count("\n", 0, found.start())
        name = header[i].strip().lower() if header is not None and i < len(header) else ""
        column = name or str(i + 1)  # the header's own cells, and cells past it, by number
        around = cell[max(0, found.start() - 20) : found.start() + 20]
        shown = " ".join(_NOT_UTF8.sub("\ufffd", around).split())
        byte = ord(found.group()) - 0xDC00
        return ImportFileError(
            f"The file is not UTF-8 text: line {line}, column {column} has a byte that is not "
            f"UTF-8 (0x{byte:02X} in “{shown}”); export it as “CSV UTF-8” and import it again.",
            errors=[{"field": "file", "message": "not UTF-8"}],
        )
    raise AssertionError("no bad byte in the record")  # only called for a record that has one


def is_blank(cells: list[str]) -> bool:
    return not any(c.strip() for c in cells)


def check_file(binary: BinaryIO, entity: str, max_rows: int) -> tuple[list[str], int]:
    """Read the whole file once, holding one record at a time, before anything is written.

    Everything that rejects a file as a whole (encoding, CSV syntax, header, too many rows) is
    found here, so a bad byte at 40 MB still imports nothing, as when the file was read at once.
    Returns the header's column names and the number of rows after it (blank lines not counted).
    """
    with contextlib.closing(records(binary)) as rows_in:
        first = next(rows_in, None)
        if first is None or is_blank(first[1]):
            raise ImportFileError(
                "The file is empty; the first line must name the columns.",
                errors=[{"field": "header", "message": "missing"}],
            )
        header = header_of(entity, first[1], line=first[0])
        rows = sum(1 for _, cells in rows_in if not is_blank(cells))
    if rows > max_rows:
        raise ImportFileError(f"More than {max_rows} rows; split the file.")
    return header, rows


def header_of(entity: str, cells: list[str], *, line: int = 1) -> list[str]:
    names = [c.strip().lower() for c in cells]
    known = {c.name for c in COLUMNS[entity]}
    problems = []
    unknown = [n for n in names if n not in known]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(u) for u in unknown)}")
    missing = [c.name for c in columns(entity) if c.required and c.name not in names]
    if missing:
        problems.append(f"missing required column(s) {', '.join(missing)}")
    doubled = sorted({n for n in names if names.count(n) > 1})
    if doubled:
        problems.append(f"column(s) given twice: {', '.join(doubled)}")
    if problems:
        raise ImportFileError(
            f"line {line}: {'; '.join(problems)}. {entity}.csv columns are: "
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
        # A NUL is valid UTF-8 but no text: PostgreSQL refuses it, SQLite's search keys end at
        # it. The API's own check refuses it in every text field, so the row is refused alike.
        if nul := problem_with(raw):
            errors.append(RowError(line, name, nul))
            continue
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
