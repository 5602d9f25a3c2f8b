"""CSV the product hands out, safe to open in a spreadsheet (every export writes through here).

A text cell starting with `=`, `+`, `-` or `@` (or a tab or carriage return, which some
spreadsheets skip before reading one of those) is taken for a formula by Excel, LibreOffice and
Google Sheets: an engineer named `=HYPERLINK("http://x","hi")` would become a live link in a
manager's export. As OWASP's CSV injection guidance says, such a cell gets a leading `'`, so it
shows as the text typed. Numbers are written as numbers: a negative figure stays `-3.5`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The cell as a spreadsheet should show it: text that would start a formula is quoted with
    `'`; anything else (numbers, None, dates' ISO text) unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The header and the rows as CSV text ("\\n" line ends), every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([safe_cell(c) for c in header])
    writer.writerows([safe_cell(c) for c in row] for row in rows)
    return out.getvalue()
