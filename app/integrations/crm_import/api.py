"""/api/v1/imports/{entity}: CSV import of CRM data (manager/admin). Columns: docs/import.md."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from app.integrations.crm_import import service as crm_import
from app.integrations.crm_import.csv_file import ImportFileError
from app.integrations.crm_import.schemas import ImportReportRead
from app.platform.deps import DbSession, ManagerUser
from app.platform.errors import AppError

router = APIRouter(prefix="/imports", tags=["imports"])
MAX_BYTES = 50 * 1024 * 1024
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


async def csv_upload(request: Request) -> tuple[bytes, str]:
    """The CSV and its name, from a multipart field `file` or a text/csv request body."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_BYTES // 2**20} MB; use the CLI (`fieldline import`) or split it."
        )
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        async with request.form(max_files=1, max_fields=5) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ImportFileError(
                    "Send the CSV in a multipart field named 'file'.",
                    errors=[{"field": "file", "message": "missing"}],
                )
            data = await upload.read(MAX_BYTES + 1)
            name = upload.filename or "upload.csv"
    elif ctype in ("text/csv", "text/plain", "application/csv"):
        data, name = await request.body(), "request body"
    else:
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data (field 'file') or as a text/csv body."
        )
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_BYTES // 2**20} MB; use the CLI (`fieldline import`) or split it."
        )
    return data, name


@router.post("/{entity}", response_model=ImportReportRead, openapi_extra=_BODY)
def import_file(
    entity: Entity,
    db: DbSession,
    user: ManagerUser,
    upload: Annotated[tuple[bytes, str], Depends(csv_upload)],
) -> ImportReportRead:
    """Upsert rows by external_id; bad rows are reported by line and not written."""
    data, name = upload
    report = crm_import.import_csv(db, entity=entity, data=data, actor=user, source=name)
    return ImportReportRead.model_validate(report)
