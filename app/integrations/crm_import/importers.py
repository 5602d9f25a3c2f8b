"""Per entity: what a batch of rows refers to, and each row as model fields (docs/import.md).

An importer looks up a batch's references (the records it updates, customers, sites, regions,
product models, contracts) in a few IN (...) queries, then checks each row against them; keys
that must be unique within the file are claimed in `FirstSeen`, which spans the batches.

Every row is checked here, also one whose cells failed (`cell_errors`), so that the report lists
all of a row's problems at once; a value whose cell failed is missing from the row's values, and
what it would refer to is not looked up.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.desk.customers import open_work
from app.desk.customers.keys import country_of, seed_account_countries
from app.integrations.crm_import.csv_file import RowError, Values
from app.integrations.crm_import.seen import FirstSeen
from app.models import Account, Asset, Contact, Contract, ProductModel, Region, Site
from app.platform import geocoder
from app.platform.audit import apply_changes
from app.platform.config import get_settings

_CHUNK = 1000  # keys per IN (...) lookup


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

    def __init__(self, session: Session, seen: FirstSeen | None = None) -> None:
        self.session = session
        self.seen = seen or FirstSeen()
        self.existing: dict[str, Any] = {}
        self.regions: dict[str, int] = {}

    def prepare(self, rows: list[tuple[int, Values]], refused: Collection[int] = frozenset()) -> None:
        """Load what the rows of one batch refer to (and the records they update); `refused`: the
        lines already refused for their cells, which will not be written."""
        objs = _lookup(
            self.session, select(self.model), self.model.external_id, (v.get("external_id") for _, v in rows)
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

    def fields(
        self, line: int, values: Values, cell_errors: Sequence[RowError] = ()
    ) -> tuple[Values, list[RowError]]:
        """The row as model fields, and its problems beyond `cell_errors` (those of its cells)."""
        raise NotImplementedError

    def write(self, values: Values, fields: Values) -> tuple[str, Any]:
        """Create or update (no flush); returns the outcome and the object."""
        obj = self.existing.get(values["external_id"])
        if obj is None:
            obj = self.model(external_id=values["external_id"], **fields)
            self.session.add(obj)
            return "created", obj
        return ("updated" if apply_changes(obj, fields) else "unchanged"), obj

    def record_of(self, values: Values) -> Any:
        """The record the row updates: None for a new one, or when its external_id cell failed."""
        return self.existing.get(values.get("external_id") or "")

    def is_new(self, values: Values) -> bool:
        return values.get("external_id") not in self.existing


class _Accounts:
    """external id → (account id, region id), for the files that hang off accounts."""

    def __init__(self, session: Session, keys: Iterable[str | None]) -> None:
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

    def resolve(self, line: int, ext: str | None, errors: list[RowError]) -> tuple[int, int | None] | None:
        """The customer `ext` names; None, with the line's error, when there is none (None without
        one when the cell itself failed: its own error says why)."""
        if ext is None:
            return None
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

    def fields(
        self, line: int, values: Values, cell_errors: Sequence[RowError] = ()
    ) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {k: v for k, v in values.items() if k not in ("external_id", "region_code")}
        if "region_code" in values:
            out["region_id"] = self.region_id(line, values, errors)
        return out, errors


class _Geocoding:
    """The import's geocoder (docs/import.md "Coordinates"): calls spaced GEOCODER_MIN_DELAY_S
    apart (geopy's RateLimiter; a public Nominatim allows one a second), and bounded, so a big
    file cannot hold its request for hours: once GEOCODER_IMPORT_BUDGET_S went on geocoding, or
    the geocoder failed to answer once, the rows still needing it fail without a call."""

    def __init__(self) -> None:
        settings = get_settings()
        self.locate = geocoder.lookup(min_delay_s=settings.geocoder_min_delay_s, settings=settings)
        self.budget_s = settings.geocoder_import_budget_s
        self.spent_s = 0.0
        self.down: str | None = None

    def coordinates(self, address: str) -> tuple[float, float] | str:
        """The address's coordinates, or why there are none (the line's error)."""
        if not address:
            return "needed to find the coordinates (or give latitude and longitude)"
        if self.down:
            return self.down
        if self.spent_s >= self.budget_s:
            return (
                f"not geocoded: this import spent its {self.budget_s:g} s of geocoding "
                "(GEOCODER_IMPORT_BUDGET_S); import the file again for the rest, or give latitude "
                "and longitude"
            )
        started = time.monotonic()
        try:
            found = self.locate(address)
        except geocoder.GeocoderDown as exc:
            self.down = (
                f"the geocoder did not answer ({type(exc.__cause__).__name__}); give latitude and "
                "longitude, or import the file again later"
            )
            return self.down
        finally:
            self.spent_s += time.monotonic() - started
        return found if found is not None else geocoder.NOT_FOUND


class _SiteImporter(_Importer):
    model = Site
    geocoding: _Geocoding | None = None  # made at the first row that needs it

    def prepare(self, rows: list[tuple[int, Values]], refused: Collection[int] = frozenset()) -> None:
        super().prepare(rows, refused)
        self.accounts = _Accounts(self.session, (v.get("account_external_id") for _, v in rows))
        # The CRM ids of the customers the batch's existing sites belong to, for the refusal below.
        self.owners: dict[int, str] = dict(
            _lookup(
                self.session,
                select(Account.id, Account.external_id),
                Account.id,
                (o.account_id for o in self.existing.values()),
            )
        )

    def _owner(self, line: int, values: Values, account_id: int, errors: list[RowError]) -> None:
        """A site stays with its customer, as over the API (no `account_id` on PATCH /sites): its
        assets, contracts' coverage, tickets and work orders are that customer's, and moving the
        site alone would leave them behind with the old one."""
        obj = self.record_of(values)
        if obj is None or obj.account_id == account_id:
            return
        owner = self.owners.get(obj.account_id) or f"#{obj.account_id}"
        errors.append(
            RowError(
                line,
                "account_external_id",
                f"site {values['external_id']} belongs to customer {owner}: a site cannot move to "
                "another customer (its assets, tickets and work orders would stay with the old one). "
                f"Keep account_external_id {owner}, or give the new customer's site a new external_id.",
            )
        )

    def _coordinates(
        self,
        line: int,
        values: Values,
        out: dict[str, Any],
        errors: list[RowError],
        cell_errors: Sequence[RowError],
    ) -> None:
        """Coordinates in the row win. Without them (GEOCODER set: the columns are optional) a
        new site, or one whose address changes, is geocoded; another keeps the coordinates it has.
        Only a row with no other error costs a lookup."""
        if {e.field for e in cell_errors} & {"latitude", "longitude"}:
            return  # a coordinate's cell failed (its error says why): not "required with" the other
        lat, lon = values.get("latitude"), values.get("longitude")
        if lat is not None and lon is not None:
            return
        if lat is not None or lon is not None:
            missing, given = ("longitude", "latitude") if lon is None else ("latitude", "longitude")
            errors.append(RowError(line, missing, f"required with {given}"))
            return
        out.pop("latitude", None)
        out.pop("longitude", None)
        obj = self.record_of(values)
        address = values.get("address") or ""
        if errors or cell_errors or (obj is not None and ("address" not in values or address == obj.address)):
            return
        self.geocoding = self.geocoding or _Geocoding()
        found = self.geocoding.coordinates(address)
        if isinstance(found, str):
            errors.append(RowError(line, "address", found))
        else:
            out["latitude"], out["longitude"] = found

    def fields(
        self, line: int, values: Values, cell_errors: Sequence[RowError] = ()
    ) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: v for k, v in values.items() if k not in ("external_id", "account_external_id", "region_code")
        }
        account = self.accounts.resolve(line, values.get("account_external_id"), errors)
        region = self.region_id(line, values, errors)
        if account:
            out["account_id"] = account[0]
            self._owner(line, values, account[0], errors)
            # Without a region of its own a site lies in its customer's region.
            if region is None and ("region_code" in values or self.is_new(values)):
                region = account[1]
        if region is not None or "region_code" in values:
            out["region_id"] = region
        self._coordinates(line, values, out, errors, cell_errors)
        return out, errors


class _ContactImporter(_Importer):
    model = Contact

    def prepare(self, rows: list[tuple[int, Values]], refused: Collection[int] = frozenset()) -> None:
        super().prepare(rows, refused)
        self.accounts = _Accounts(self.session, (v.get("account_external_id") for _, v in rows))
        # Contacts the batch moves to another customer: which live tickets name them (open_work)?
        moving = []
        for _, v in rows:
            obj, target = (
                self.record_of(v),
                self.accounts.by_ext.get(v.get("account_external_id")),
            )
            if obj is not None and target is not None and target[0] != obj.account_id:
                moving.append(obj.id)
        self.open_cases = open_work.of_contacts(self.session, moving)

    def fields(
        self, line: int, values: Values, cell_errors: Sequence[RowError] = ()
    ) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: v for k, v in values.items() if k not in ("external_id", "account_external_id")
        }
        account = self.accounts.resolve(line, values.get("account_external_id"), errors)
        if account:
            out["account_id"] = account[0]
            obj = self.record_of(values)
            moves = obj is not None and obj.account_id != account[0]
            cases = open_work.against(self.open_cases.get(obj.id), account[0]) if obj and moves else None
            if cases:
                what = f"contact {values['external_id']}"
                errors.append(RowError(line, "account_external_id", open_work.move_refusal(what, cases)))
        return out, errors


class _AssetImporter(_Importer):
    model = Asset

    def prepare(self, rows: list[tuple[int, Values]], refused: Collection[int] = frozenset()) -> None:
        super().prepare(rows, refused)
        session, vals = self.session, [v for _, v in rows]
        self.sites = {
            ext: (sid, aid)
            for ext, sid, aid in _lookup(
                session,
                select(Site.external_id, Site.id, Site.account_id),
                Site.external_id,
                (v.get("site_external_id") for v in vals),
            )
        }
        self.models = dict(
            _lookup(
                session,
                select(ProductModel.code, ProductModel.id),
                ProductModel.code,
                (v.get("product_model_code") for v in vals),
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
        # Serials are unique in the file (every row not refused for its cells claims its serial, in
        # file order, across batches; a refused row is not written, so a later row may use its
        # serial, but it is told when an earlier row has it) ...
        serials = [(line, v["serial"]) for line, v in rows if v.get("serial")]
        self.serial_repeats = self.seen.claim("serial", [(n, s) for n, s in serials if n not in refused])
        self.serial_repeats.update(
            self.seen.claimed_before("serial", [(n, s) for n, s in serials if n in refused])
        )
        # ... and in the database: who holds each serial of the batch now (by external id)?
        self.serial_owner = {
            serial: ext
            for serial, ext in _lookup(
                session,
                select(Asset.serial, Asset.external_id),
                Asset.serial,
                (v.get("serial") for v in vals),
            )
        }
        # Assets the batch moves to another customer's site: which live tickets and visits name them?
        moving = []
        for v in vals:
            obj, site = self.record_of(v), self.sites.get(v.get("site_external_id"))
            if obj is not None and site is not None and site[1] != obj.account_id:
                moving.append(obj.id)
        self.open_cases = open_work.of_assets(session, moving)

    def fields(
        self, line: int, values: Values, cell_errors: Sequence[RowError] = ()
    ) -> tuple[Values, list[RowError]]:
        errors: list[RowError] = []
        out: dict[str, Any] = {
            k: values[k] for k in ("serial", "install_date", "warranty_end") if k in values
        }
        serial, ext = values.get("serial"), values.get("external_id")
        owner = self.serial_owner.get(serial, ext) if serial else ext
        if line in self.serial_repeats:
            errors.append(RowError(line, "serial", f"duplicate of line {self.serial_repeats[line]}"))
        elif ext is not None and owner != ext:
            # Not for a repeat: its first line may sit in a batch already committed, and the
            # answer must not depend on where the batches happen to split the file.
            errors.append(
                RowError(line, "serial", f"already used by another asset (external id {owner or 'none'})")
            )
        site_ext = values.get("site_external_id")
        site = self.sites.get(site_ext) if site_ext is not None else None
        if site is None and site_ext is not None:
            errors.append(RowError(line, "site_external_id", f"no site with external id {site_ext!r}"))
        elif site is not None:
            out["site_id"], out["account_id"] = site
            obj = self.record_of(values)
            moves = obj is not None and obj.account_id != site[1]
            cases = open_work.against(self.open_cases.get(obj.id), site[1]) if obj and moves else None
            if cases:
                what = f"asset {ext}"
                errors.append(RowError(line, "site_external_id", open_work.move_refusal(what, cases)))
        model_code = values.get("product_model_code")
        model_id = self.models.get(model_code) if model_code is not None else None
        if model_id is None and model_code is not None:
            errors.append(RowError(line, "product_model_code", f"unknown product model {model_code!r}"))
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
