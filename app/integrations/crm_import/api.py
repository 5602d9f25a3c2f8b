"""/api/v1/imports/{entity}: CSV import of CRM data (manager/admin). Columns: docs/import.md."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import Annotated, BinaryIO, Literal, cast

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from app.integrations.crm_import import service as crm_import
from app.integrations.crm_import.csv_file import ImportFileError
from app.integrations.crm_import.schemas import ImportReportRead
from app.platform.deps import DbSession, ManagerUser
from app.platform.errors import AppError

router = APIRouter(prefix="/imports", tags=["imports"])
MAX_BYTES = 50 * 1024 * 1024
SPOOL_IN_MEMORY = 1024 * 1024  # a text/csv body past this goes to a temporary file
Entity = Literal["customers", "sites", "contacts", "assets"]
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


class PayloadTooLarge(AppError):
    status_code, title = 413, "Content too large"


class UnsupportedMediaType(AppError):
    status_code, title = 415, "Unsupported media type"


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than {MAX_BYTES // 2**20} MB; use the CLI (`fieldline import`) or split it."
    )


async def csv_upload(
    request: Request, db: DbSession, user: ManagerUser
) -> AsyncIterator[tuple[BinaryIO, str]]:
    """The CSV, spooled to a temporary file, and its name: from a multipart field `file` or a
    text/csv request body. Never the whole file in memory; the import streams it from disk."""
    length = request.headers.get("content-length")
    if length and length.isdecimal() and int(length) > MAX_BYTES:
        raise _too_large()
    # The user was looked up (so only a manager gets to send 50 MB); end that transaction, so
    # on SQLite the write lock is not held while the body arrives.
    db.commit()
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        # Starlette spools a file part to a temporary file past 1 MB.
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ImportFileError(
                    "Send the CSV in a multipart field named 'file'.",
                    errors=[{"field": "file", "message": "missing"}],
                )
            if (upload.size or 0) > MAX_BYTES:
                raise _too_large()
            yield upload.file, upload.filename or "upload.csv"
    elif ctype in ("text/csv", "text/plain", "application/csv"):
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise _too_large()
                spool.write(chunk)
            yield cast(BinaryIO, spool), "request body"
    else:
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data (field 'file') or as a text/csv body."
        )


@router.post("/{entity}", response_model=ImportReportRead, openapi_extra=_BODY)
def import_file(
    entity: Entity,
    db: DbSession,
    user: ManagerUser,
    upload: Annotated[tuple[BinaryIO, str], Depends(csv_upload, scope="function")],
) -> ImportReportRead:
    """Upsert rows by external_id; bad rows are reported by line and not written. Commits in
    batches as it goes (docs/import.md)."""
    data, name = upload
    report = crm_import.import_csv(db, entity=entity, data=data, actor=user, source=name)
    return ImportReportRead.model_validate(report)
