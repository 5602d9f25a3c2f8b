"""CSV import of CRM data for managers and admins: `/imports` (choose the kind, upload the file,
read the report on the same page).

The page runs the service the API (`POST /api/v1/imports/{entity}`) and `fieldline import` run
(app/integrations/crm_import/service.py), so the rules are one: a file refused as a whole (not
UTF-8, empty, unknown or missing columns) imports nothing; otherwise each bad row is reported by
line and column and not written, and the good rows are written and committed in batches. The
service has no dry run, so neither has the page. The column help comes from the importer's own
column list (crm_import/fields.py), so it cannot drift from what the import accepts.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from app.integrations.crm_import import service as crm_import
from app.integrations.crm_import.api import MAX_BYTES as API_MAX_BYTES
from app.integrations.crm_import.csv_file import ImportFileError
from app.integrations.crm_import.fields import columns
from app.models import User
from app.platform.body_limit import DEFAULT_LIMIT_BYTES, ROUTE_LIMITS_BYTES
from app.platform.errors import AppError
from app.web.messages import page_error
from app.web.shared import PageDb, PageRoute, label, managers_only, render, require_csrf

router = APIRouter(route_class=PageRoute)
PATH = "/imports"
# The body-limit middleware refuses a larger body before this page sees it (as problem+json, not a
# page), so the file limit here is what it lets through, less room for the form's other fields
# and the multipart framing, and never more than the API's.
_BODY_LIMIT = next((n for prefix, n in ROUTE_LIMITS_BYTES if PATH.startswith(prefix)), DEFAULT_LIMIT_BYTES)
MAX_FILE_BYTES = min(API_MAX_BYTES, _BODY_LIMIT - 16 * 1024)
# What each kind holds and what it refers to (the import order matters: docs/import.md). Only
# the wording is kept here; the kinds and their columns are the service's.
ABOUT = {
    "customers": "Accounts. Import these first: the other files refer to them.",
    "sites": "A customer's locations, linked by account_external_id.",
    "contacts": "A customer's people, linked by account_external_id.",
    "assets": "Installed equipment, linked to a site by site_external_id; product models (and "
    "contracts) must exist already.",
}


ImportsUser = Annotated[
    User, Depends(managers_only("CSV imports are for managers and admins. {account} cannot import."))
]


def _size(n: int) -> str:
    """1 031 168 → '1 MB' (a person reads the limit, not the byte count)."""
    return f"{round(n / 2**20, 1):g} MB" if n >= 2**20 // 2 else f"{n // 1024} KB"


# The importer's cell messages are terse ("not a number"); the page adds the formats it reads
# (crm_import/fields.py: a decimal point or comma, with or without thousands separators).
ROW_HINTS = {
    "not a number": "not a number: write it e.g. 1234.56, 1234,56, 1.234,56 or 1,234.56",
}


def row_message(message: str) -> str:
    return ROW_HINTS.get(message, message)


def refused_text(exc: ImportFileError, *, name: str, entity: str) -> str:
    """A file refused as a whole: which file, read as which kind, nothing imported, and why.

    The reason is the importer's own, as the API and the CLI give it (a bad byte by line and
    column, a UTF-16 file by name); only its pointer to docs/import.md goes, which a manager
    cannot open: the form's help lists the columns.
    """
    reason = exc.detail.replace(" (see docs/import.md)", "")
    return f"Nothing was imported from {name} as {label(entity).lower()}. {reason}"


def _kinds() -> list[dict[str, Any]]:
    return [
        {
            "name": kind,
            "about": ABOUT.get(kind, ""),
            "columns": [(c.name, c.required) for c in columns(kind)],
        }
        for kind in crm_import.ENTITIES
    ]


def _view(
    request: Request,
    *,
    chosen: str,
    error: str = "",
    report: crm_import.ImportReport | None = None,
    filename: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "nav": "imports",
        "kinds": _kinds(),
        "chosen": chosen,
        "error": error,
        "report": report,
        "filename": filename,
        "max_size": _size(MAX_FILE_BYTES),
        "row_message": row_message,
    }
    return render(request, "imports/import.html", context, status_code=status_code)


@router.get(PATH)
def import_page(request: Request, user: ImportsUser) -> HTMLResponse:
    return _view(request, chosen=crm_import.ENTITIES[0])


@router.post(PATH)
def import_upload(
    request: Request,
    db: PageDb,
    user: ImportsUser,
    entity: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form()] = "",
) -> HTMLResponse:
    require_csrf(request, csrf)
    if entity not in crm_import.ENTITIES:
        kinds = ", ".join(crm_import.ENTITIES)
        return _view(request, chosen="", error=f"Choose what the file holds: {kinds}.", status_code=422)
    # A browser sends an empty part without a name when no file was chosen.
    if file is None or not file.filename:
        return _view(request, chosen=entity, error="Choose a CSV file to upload.", status_code=422)
    name = file.filename
    if (file.size or 0) > MAX_FILE_BYTES:
        error = (
            f"{name} is larger than {_size(MAX_FILE_BYTES)}, the limit for this page; "
            "split it, or use `fieldline import` or the API."
        )
        return _view(request, chosen=entity, error=error, filename=name, status_code=413)
    try:
        report = crm_import.import_csv(db, entity=entity, data=file.file, actor=user, source=name)
    except ImportFileError as exc:
        error = refused_text(exc, name=name, entity=entity)
        return _view(request, chosen=entity, error=error, filename=name, status_code=exc.status_code)
    except AppError as exc:
        # A file refused as a whole, or an import stopped half-way: the service has rolled back
        # what it had not committed, and its message says what (if anything) landed.
        return _view(
            request, chosen=entity, error=page_error(exc), filename=name, status_code=exc.status_code
        )
    return _view(request, chosen=entity, report=report, filename=name)
