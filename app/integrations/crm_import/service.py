"""CSV import of CRM data: customers, sites, contacts, assets (one file per entity).

Rows are linked by the CRM's external ids and upserted by `external_id`. Every row is checked
completely (cells, references, uniqueness) before anything is written; good rows are then
written batch by batch in a savepoint, and should the database still refuse a row, its batch
is rolled back and written again row by row, each in its own savepoint: a bad row leaves
nothing behind and never stops the others.
Columns absent from the file are left alone on update; a blank cell clears the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.desk.customers.keys import country_of, seed_account_countries
from app.integrations.crm_import.csv_file import (
    ImportFileError,
    RowError,
    Values,
    decode,
    header_of,
    parse_row,
    records,
)
from app.integrations.crm_import.fields import COLUMNS
from app.models import Account, Asset, Contact, Contract, ProductModel, Region, Site, User
from app.platform.audit import apply_changes
from app.platform.errors import Conflict, Unprocessable
from app.platform.events import emit

ENTITIES = tuple(COLUMNS)
MAX_ROWS = 500_000
_CHUNK = 1000  # keys per IN (...) lookup
BATCH = 1000  # rows checked and written together
MAX_REFUSED = 100  # rows that passed every check yet were refused by the database


@dataclass
class ImportReport:
    entity: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[RowError] = field(default_factory=list)
    refused: int = field(default=0, repr=False)  # failed rows the database refused


class ImportAborted(Conflict):
    """Too many rows were refused by the database: the import was rolled back as a whole."""

    title = "Import aborted"


# --- references ----------------------------------------------------------------------------


def _lookup(session: Session, stmt: Select[*tuple[Any, ...]], col: Any, keys: Iterable[Any]) -> list[Any]:
    """Rows of `stmt` whose `col` is one of `keys`, fetched in chunks."""
    wanted = sorted({k for k in keys if k is not None})
    rows: list[Any] = []
    for i in range(0, len(wanted), _CHUNK):
        rows.extend(session.execute(stmt.where(col.in_(wanted[i : i + _CHUNK]))).all())
    return rows


class _Importer:
    """Per entity: look up a batch's references, turn a row into model fields, write it."""

    model: Any

    def __init__(self, session: Session) -> None:
        self.session = session
        self.existing: dict[str, Any] = {}
        self.regions: dict[str, int] = {}

    def prepare(self, rows: list[tuple[int, Values]]) -> None:
        """Load what the rows of one batch refer to (and the records they update)."""
        objs = _lookup(
            self.session, select(self.model), self.model.external_id, (v["external_id"] for _, v in rows)
        )
        self.existing = {o.external_id: o for (o,) in objs}
        self.regions = dict(
            _lookup(
                self.session,
                select(Region.code, Region.id),
                Region.code,
                (v.get("region_code") for _, v in rows),
            )
        )

    def region_id(self, line: int, values: Values, errors: list[RowError]) -> int | None:
        code = values.get("region_code")
        if code is None:
            return None
        if code not in self.regions:
            errors.append(RowError(line, "region_code", f"unknown region {code!r}"))
        return self.regions.get(code)

    def fields(self, line: int, values: Values) -> tuple[Values, list[RowError]]:
        raise NotImplementedError

    def write(self, values: Values, fields: Values) -> tuple[str, Any]:
        """Create or update (no flush); returns the outcome and the object."""
        obj = self.existing.get(values["external_id"])
        if obj is None:
            obj = self.model(external_id=values["external_id"], **fields)
            self.session.add(obj)
            return "created", obj
        return ("updated" if apply_changes(obj, fields) else "unchanged"), obj

    def is_new(self, values: Values) -> bool:
        return values["external_id"] not in self.existing


class _Accounts:
    """external id → (account id, region id), for the files that hang off accounts."""

    def __init__(self, session: Session, keys: Iterable[str]) -> None:
        rows = _lookup(
            session,
            select(Account.external_id, Account.id, Account.region_id, Region.timezone).outerjoin(
                Region, Region.id == Account.region_id
            ),
            Account.external_id,
            keys,
        )
        self.by_ext = {ext: (aid, rid) for ext, aid, rid, _ in rows}
        seed_account_countries(session, {aid: country_of(tz) for _, aid, _, tz in rows})

    def resolve(self, line: int, ext: str, errors: list[RowError]) -> tuple[int, int | None] | None:
        found = self.by_ext.get(ext)
        if found is None:
            errors.append(
                RowError(
                    line,
                    "account_external_id",
                    f"no customer with external id {ext!r} (import customers first)",
                )
            )
        return found


class _CustomerImporter(_Importer):
    model = Account

    def fields(self, line: int, values: Values) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {k: v for k, v in values.items() if k not in ("external_id", "region_code")}
        if "region_code" in values:
            out["region_id"] = self.region_id(line, values, errors)
        return out, errors


class _SiteImporter(_Importer):
    model = Site

    def prepare(self, rows: list[tuple[int, Values]]) -> None:
        super().prepare(rows)
        self.accounts = _Accounts(self.session, (v["account_external_id"] for _, v in rows))

    def fields(self, line: int, values: Values) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: v for k, v in values.items() if k not in ("external_id", "account_external_id", "region_code")
        }
        account = self.accounts.resolve(line, values["account_external_id"], errors)
        region = self.region_id(line, values, errors)
        if account:
            out["account_id"] = account[0]
            # Without a region of its own a site lies in its customer's region.
            if region is None and ("region_code" in values or self.is_new(values)):
                region = account[1]
        if region is not None or "region_code" in values:
            out["region_id"] = region
        return out, errors


class _ContactImporter(_Importer):
    model = Contact

    def prepare(self, rows: list[tuple[int, Values]]) -> None:
        super().prepare(rows)
        self.accounts = _Accounts(self.session, (v["account_external_id"] for _, v in rows))

    def fields(self, line: int, values: Values) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: v for k, v in values.items() if k not in ("external_id", "account_external_id")
        }
        account = self.accounts.resolve(line, values["account_external_id"], errors)
        if account:
            out["account_id"] = account[0]
        return out, errors


class _AssetImporter(_Importer):
    model = Asset

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.serial_line: dict[str, int] = {}  # serial → line of the file that claimed it

    def prepare(self, rows: list[tuple[int, Values]]) -> None:
        super().prepare(rows)
        session, vals = self.session, [v for _, v in rows]
        self.sites = {
            ext: (sid, aid)
            for ext, sid, aid in _lookup(
                session,
                select(Site.external_id, Site.id, Site.account_id),
                Site.external_id,
                (v["site_external_id"] for v in vals),
            )
        }
        self.models = dict(
            _lookup(
                session,
                select(ProductModel.code, ProductModel.id),
                ProductModel.code,
                (v["product_model_code"] for v in vals),
            )
        )
        self.contracts: dict[str, tuple[int, int]] = {
            num: (cid, aid)
            for num, cid, aid in _lookup(
                session,
                select(Contract.number, Contract.id, Contract.account_id),
                Contract.number,
                (v.get("contract_number") for v in vals),
            )
        }
        # Serials are unique: who holds each serial of the file now (by external id)?
        self.serial_owner = {
            serial: ext
            for serial, ext in _lookup(
                session, select(Asset.serial, Asset.external_id), Asset.serial, (v["serial"] for v in vals)
            )
        }

    def fields(self, line: int, values: Values) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: values[k] for k in ("serial", "install_date", "warranty_end") if k in values
        }
        serial, ext = values["serial"], values["external_id"]
        if serial in self.serial_line:
            errors.append(RowError(line, "serial", f"duplicate of line {self.serial_line[serial]}"))
        else:
            self.serial_line[serial] = line
        owner = self.serial_owner.get(serial, ext)
        if owner != ext:
            errors.append(
                RowError(line, "serial", f"already used by another asset (external id {owner or 'none'})")
            )
        site = self.sites.get(values["site_external_id"])
        if site is None:
            errors.append(
                RowError(line, "site_external_id", f"no site with external id {values['site_external_id']!r}")
            )
        else:
            out["site_id"], out["account_id"] = site
        model_id = self.models.get(values["product_model_code"])
        if model_id is None:
            errors.append(
                RowError(
                    line, "product_model_code", f"unknown product model {values['product_model_code']!r}"
                )
            )
        out["product_model_id"] = model_id
        if "contract_number" in values:
            out["contract_id"] = self._contract(line, values["contract_number"], site, errors)
        install, warranty = values.get("install_date"), values.get("warranty_end")
        if install and warranty and warranty < install:
            errors.append(RowError(line, "warranty_end", "before install_date"))
        return out, errors

    def _contract(
        self, line: int, number: str | None, site: tuple[int, int] | None, errors: list[RowError]
    ) -> int | None:
        if number is None:
            return None
        found = self.contracts.get(number)
        if found is None:
            errors.append(RowError(line, "contract_number", f"no contract {number!r}"))
            return None
        if site is not None and found[1] != site[1]:
            errors.append(RowError(line, "contract_number", "belongs to another customer"))
        return found[0]


_IMPORTERS: dict[str, type[_Importer]] = {
    "customers": _CustomerImporter,
    "sites": _SiteImporter,
    "contacts": _ContactImporter,
    "assets": _AssetImporter,
}


# --- the import ------------------------------------------------------------------------------


def _write(
    session: Session, importer: _Importer, rows: list[tuple[int, Values, Values]], report: ImportReport
) -> None:
    """Write checked rows in one savepoint; if the database refuses one, retry row by row.

    Batches keep big files fast (one multi-row INSERT); the row-by-row retry keeps a refused
    row from taking its neighbours with it. A refused savepoint stays open on PostgreSQL (SQLAlchemy
    rolls back to it but does not release it) and holds its locks until commit, so refusals are
    capped: past MAX_REFUSED the database is refusing for a reason no row check can see, and the
    whole import is called off.
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
        report.failed += 1
        report.refused += 1
        report.errors.append(RowError(rows[0][0], "", f"rejected by the database: {exc.orig}"))
        if report.refused > MAX_REFUSED:
            raise ImportAborted(
                f"The database refused more than {MAX_REFUSED} rows (first: "
                f"{next(e for e in report.errors if e.message.startswith('rejected'))}); "
                "nothing was imported."
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
    session: Session, *, entity: str, data: bytes | str, actor: User | None = None, source: str = ""
) -> ImportReport:
    """Import one CSV file of `entity`; returns counts and the errors by line. Only flushes."""
    check_entity(entity)
    spec = {c.name: c for c in COLUMNS[entity]}
    rows_in = records(decode(data))
    first = next(rows_in, None)
    if first is None or not any(c.strip() for c in first[1]):
        raise ImportFileError(
            "The file is empty; the first line must name the columns.",
            errors=[{"field": "header", "message": "missing"}],
        )
    header = header_of(entity, first[1])
    report = ImportReport(entity)
    rows: list[tuple[int, Values]] = []
    first_line: dict[str, int] = {}
    for line, cells in rows_in:
        if not any(c.strip() for c in cells):
            continue  # blank lines (often at the end of a file)
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise ImportFileError(f"More than {MAX_ROWS} rows; split the file.")
        values, errors = parse_row(line, cells, header, spec)
        ext = values.get("external_id")
        if ext in first_line:
            errors.append(RowError(line, "external_id", f"duplicate of line {first_line[ext]}"))
        elif ext:
            first_line[ext] = line
        if errors:
            report.failed += 1
            report.errors.extend(errors)
        else:
            rows.append((line, values))

    importer = _IMPORTERS[entity](session)
    for i in range(0, len(rows), BATCH):
        batch = rows[i : i + BATCH]
        importer.prepare(batch)
        good = []
        for line, values in batch:
            fields, errors = importer.fields(line, values)
            if errors:
                report.failed += 1
                report.errors.extend(errors)
            else:
                good.append((line, values, fields))
        _write(session, importer, good, report)

    report.errors.sort(key=lambda e: e.line)  # cell errors were found before reference errors
    emit(
        session,
        "customer.imported",
        {
            "entity": entity,
            "source": source,
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "failed": report.failed,
            "by": actor.id if actor else None,
        },
    )
    return report
