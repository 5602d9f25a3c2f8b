"""CSV import of CRM data: customers, sites, contacts, assets (one file per entity).

Rows are linked by the CRM's external ids and upserted by `external_id`. The file is read twice
as a stream, never whole: once to reject it as a whole if it must be (encoding, CSV syntax,
header, size) before anything is written, then in batches of BATCH rows. Each batch is checked
completely (cells, references, uniqueness), its good rows written in a savepoint, and committed
in its own short transaction, so another writer waits for one batch at most (on SQLite, for
the single write lock), and memory holds one batch. Should the database still refuse a row, its
batch is rolled back to the savepoint and written again row by row, each in its own savepoint:
a bad row leaves nothing behind and never stops the others.
An import that stops half-way (the database goes away, the process is killed) keeps the
batches it committed, each row whole; its message says which lines landed, and importing the
same file again finishes the job (rows already imported come back `unchanged`).
Columns absent from the file are left alone on update; a blank cell clears the field.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.integrations.crm_import.csv_file import (
    RowError,
    Values,
    as_binary,
    check_file,
    is_blank,
    parse_row,
    records,
)
from app.integrations.crm_import.fields import COLUMNS, Column, columns
from app.integrations.crm_import.importers import _IMPORTERS, _Importer
from app.integrations.crm_import.seen import FirstSeen
from app.models import User
from app.platform.errors import AppError, Conflict, Unprocessable
from app.platform.events import emit

log = logging.getLogger(__name__)

ENTITIES = tuple(COLUMNS)
MAX_ROWS = 500_000
BATCH = 500  # rows read, checked, written and committed together (one lock hold on SQLite)
MAX_REFUSED = 100  # rows that passed every check yet were refused by the database
MAX_ERRORS = 1000  # row errors the report lists; `failed` still counts every failed row
# SQLite has no queue for its write lock: a waiting writer polls, at most 100 ms apart once it has
# waited a while, and would rarely find the few milliseconds between two batches. So after holding
# the lock this long in all, the import leaves it free for longer than one poll.
SQLITE_HOLD_S = 0.5
SQLITE_PAUSE_S = 0.12

Record = tuple[int, list[str]]  # (first line of the record in the file, its cells)


@dataclass
class ImportReport:
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_omitted: int = 0  # row errors past MAX_ERRORS (a file of bad rows must not fill memory)
    refused: int = field(default=0, repr=False)  # failed rows the database refused
    first_refused: RowError | None = field(default=None, repr=False)
    committed_through: int = field(default=0, repr=False)  # last line of the last committed batch
    committed: tuple[int, int, int, int] = field(default=(0, 0, 0, 0), repr=False)  # counts then
    batch_from: int = field(default=0, repr=False)  # first line of the batch under way


class ImportAborted(Conflict):
    """Too many rows were refused by the database: the import was called off."""

    title = "Import aborted"


class ImportInterrupted(AppError):
    """The database failed mid-import; the batches committed before stay (see `landed`)."""

    status_code, title = 503, "Import interrupted"


def landed(report: ImportReport) -> str:
    """What an import that stopped half-way left behind, honestly and in file lines."""
    if not report.committed_through:
        return "Nothing was imported."
    created, updated, unchanged, failed = report.committed
    return (
        f"Lines 2–{report.committed_through} were imported and committed ({created} created, "
        f"{updated} updated, {unchanged} unchanged, {failed} failed); nothing "
        f"from line {report.batch_from} on. Import the same file again to finish: rows already "
        "imported come back unchanged."
    )


def _write(
    session: Session, importer: _Importer, rows: list[tuple[int, Values, Values]], report: ImportReport
) -> None:
    """Write checked rows in one savepoint; if the database refuses one, retry row by row.

    Batches keep big files fast (one multi-row INSERT); the row-by-row retry keeps a refused
    row from taking its neighbours with it. A refused savepoint stays open on PostgreSQL (SQLAlchemy
    rolls back to it but does not release it) and holds its locks until commit, so refusals are
    capped: past MAX_REFUSED the database is refusing for a reason no row check can see, and the
    import is called off (the batch under way is rolled back).
    """
    if not rows:
        return
    try:
        with session.begin_nested():
            done = [importer.write(values, fields) for _, values, fields in rows]
            session.flush()
    except (IntegrityError, DataError) as exc:
        if len(rows) > 1:
            for row in rows:
                _write(session, importer, [row], report)
            return
        error = RowError(rows[0][0], "", f"rejected by the database: {exc.orig}")
        report.failed += 1
        report.refused += 1
        report.errors.append(error)
        report.first_refused = report.first_refused or error
        if report.refused > MAX_REFUSED:
            raise ImportAborted(
                f"The database refused more than {MAX_REFUSED} rows (first: {report.first_refused})."
            ) from exc
        return
    for outcome, obj in done:
        setattr(report, outcome, getattr(report, outcome) + 1)
        session.expunge(obj)  # keeps memory flat on big files; nothing reads them again


def check_entity(entity: str) -> None:
    if entity not in COLUMNS:
        raise Unprocessable(
            f"Cannot import {entity!r}; choose one of {', '.join(ENTITIES)}.",
            errors=[{"field": "entity", "message": f"one of {', '.join(ENTITIES)}"}],
        )


def import_csv(
    session: Session,
    *,
    entity: str,
    data: bytes | str | BinaryIO,
    actor: User | None = None,
    source: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import one CSV file of `entity` (bytes, or a seekable binary file: an upload spooled to
    disk, a file opened "rb"); returns counts and the errors by line.

    Commits: whatever the session holds first (so no lock is held while the file is checked),
    then each batch. A file rejected as a whole raises ImportFileError with nothing written.
    `progress(rows done, rows in the file)` is called after each committed batch.
    """
    check_entity(entity)
    session.commit()
    binary = as_binary(data)
    header, total = check_file(binary, entity, MAX_ROWS)

    def done(rows: int) -> None:
        if progress is not None:
            progress(rows, total)

    with contextlib.closing(records(binary)) as rows_in:
        rows = itertools.islice(rows_in, 1, None)  # the header was checked above
        return import_records(
            session, entity=entity, header=header, rows=rows, actor=actor, source=source, progress=done
        )


def import_records(
    session: Session,
    *,
    entity: str,
    header: list[str],
    rows: Iterable[Record],
    actor: User | None = None,
    source: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import records (after the header) as they come: one batch in memory, one commit per batch;
    `progress(rows done)` after each commit."""
    spec = {c.name: c for c in columns(entity)}
    report = ImportReport(entity)
    sqlite, held = session.get_bind().dialect.name == "sqlite", 0.0
    with FirstSeen() as seen:
        importer = _IMPORTERS[entity](session, seen)
        try:
            for batch in _batches(rows):
                report.batch_from = batch[0][0]
                started = time.monotonic()
                _import_batch(session, importer, seen, header, spec, batch, report)
                session.commit()
                held += time.monotonic() - started
                if sqlite and held >= SQLITE_HOLD_S:
                    time.sleep(SQLITE_PAUSE_S)
                    held = 0.0
                report.committed_through = batch[-1][0]
                report.committed = (report.created, report.updated, report.unchanged, report.failed)
                log.info("crm import %s %s: committed through line %d", entity, source, batch[-1][0])
                if progress is not None:
                    progress(report.rows)
        except BaseException as exc:
            session.rollback()  # the batch under way: none of its rows land
            _explain(exc, report)
            raise
    emit(session, "customer.imported", _event(report, source, actor))
    session.commit()
    return report


def _batches(rows: Iterable[Record]) -> Iterator[list[Record]]:
    it = (r for r in rows if not is_blank(r[1]))  # blank lines (often at the end of a file)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def _import_batch(
    session: Session,
    importer: _Importer,
    seen: FirstSeen,
    header: list[str],
    spec: dict[str, Column],
    batch: list[Record],
    report: ImportReport,
) -> None:
    """Check one batch's rows (cells, duplicates in the file, references) and write the good ones."""
    mark = len(report.errors)
    parsed = [(line, *parse_row(line, cells, header, spec)) for line, cells in batch]
    repeats = seen.claim(
        "external_id", [(line, v["external_id"]) for line, v, _ in parsed if v.get("external_id")]
    )
    for line, _, errors in parsed:
        if line in repeats:
            errors.append(RowError(line, "external_id", f"duplicate of line {repeats[line]}"))
    # The references of every row, also of one refused for its cells: a row's problems are listed
    # at once (an unknown region showed only after the upload that fixed the row's name).
    refused = {line for line, _, errors in parsed if errors}
    importer.prepare([(line, values) for line, values, _ in parsed], refused)
    good: list[tuple[int, Values, Values]] = []
    for line, values, errors in parsed:
        report.rows += 1
        fields, more = importer.fields(line, values, errors)
        errors += more
        if errors:
            report.failed += 1
            report.errors.extend(errors)
        else:
            good.append((line, values, fields))
    _write(session, importer, good, report)
    # cell errors were found before reference errors; the batches come in file order
    report.errors[mark:] = sorted(report.errors[mark:], key=lambda e: e.line)
    if len(report.errors) > MAX_ERRORS:
        report.errors_omitted += len(report.errors) - MAX_ERRORS
        del report.errors[MAX_ERRORS:]


def _explain(exc: BaseException, report: ImportReport) -> None:
    """Say in the error what landed before it (batches committed so far stay committed)."""
    note = landed(report)
    if report.committed_through:
        log.warning("crm import %s stopped at line %d: %s", report.entity, report.batch_from, note)
    if isinstance(exc, AppError):
        exc.detail = f"{exc.detail} {note}"
    elif isinstance(exc, SQLAlchemyError):
        raise ImportInterrupted(
            f"The database failed at line {report.batch_from} ({type(exc).__name__}). {note}"
        ) from exc
    elif report.committed_through:  # KeyboardInterrupt, SystemExit...: the CLI prints the note
        exc.add_note(note)


def _event(report: ImportReport, source: str, actor: User | None) -> dict[str, object]:
    return {
        "entity": report.entity,
        "source": source,
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed": report.failed,
        "by": actor.id if actor else None,
    }
