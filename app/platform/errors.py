"""Application errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

PROBLEM = "application/problem+json"


class AppError(Exception):
    """Raised by services; carries its HTTP status. `detail` is for humans."""

    status_code = 400
    title = "Bad request"
    type_ = "about:blank"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self.extra = extra


class NotFound(AppError):
    status_code, title = 404, "Not found"


class Forbidden(AppError):
    status_code, title = 403, "Forbidden"


class Unauthorized(AppError):
    status_code, title = 401, "Not authenticated"


class Conflict(AppError):
    """A concurrent edit or an illegal state change."""

    status_code, title = 409, "Conflict"


class InvalidTransition(Conflict):
    title = "Illegal status transition"


class PreconditionFailed(AppError):
    status_code, title = 412, "Precondition failed"


class PreconditionRequired(AppError):
    status_code, title = 428, "Precondition required"


class Unprocessable(AppError):
    status_code, title = 422, "Unprocessable content"


def refuse(errors: Sequence[dict[str, str]], *, fields_in_detail: bool = True) -> None:
    """Raise one 422 naming every problem found by a service's checks; return if there is none.

    `fields_in_detail=False` is for checks whose messages already name what is wrong (the planner's
    "Ann lacks skill(s) …"), where a "engineer_id:" prefix would only add noise.
    """
    if not errors:
        return
    if fields_in_detail:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    else:
        detail = "; ".join(e["message"] for e in errors)
    raise Unprocessable(detail, errors=list(errors))


def refuse_fields(model: BaseModel, problems: Mapping[str, str]) -> None:
    """For a model validator (checks that need the whole model): raise its problems, each under
    the field it is about; return if there is none.

    A ValueError raised in a model validator is located at the model itself, so the API named the
    field `body` ("Value error, title cannot be null"). A ValidationError raised there is taken as
    the model's own errors, under the model's location: `("body", "title")` in a request body,
    `("shifts", 0, "ends")` in a nested model, and the pages' `loc[0]` is the field as well.
    `problems` maps a field name to a message that does not repeat it ("cannot be null")."""
    if not problems:
        return
    raise ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(
                # "{message}" as the template, so that braces in a message are not read as fields
                type=PydanticCustomError("value_error", "{message}", {"message": message}),
                loc=(field,),
                input=getattr(model, field, None),
            )
            for field, message in problems.items()
        ],
    )


class TooManyRequests(AppError):
    status_code, title = 429, "Too many requests"


class ServiceUnavailable(AppError):
    status_code, title = 503, "Service unavailable"


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _message(error: Mapping[str, Any]) -> str:
    # pydantic prefixes a validator's ValueError with "Value error, "; the pages drop it
    # (app/web/messages.py) and so does the API: the message is ours, the type says what kind.
    return str(error["msg"]).removeprefix("Value error, ")


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # The first element names where the value came from (body, query, path, header).
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


API_PREFIX = "/api/"


def _error_item(error: Mapping[str, Any], body: Any) -> dict[str, Any]:
    if error["type"] == "json_invalid":
        # FastAPI locates a JSON decode error at ("body", <character offset>): the field is the
        # body, and the offset becomes a line and column a person can find.
        return {"field": "body", "message": _json_problem(error, body), "type": "json_invalid"}
    return {"field": _field_path(error["loc"]), "message": _message(error), "type": error["type"]}


def _json_problem(error: Mapping[str, Any], body: Any) -> str:
    loc: Sequence[Any] = error.get("loc") or ()
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = str((error.get("ctx") or {}).get("error") or error.get("msg") or "decode error")
    if pos is None or not isinstance(body, str):
        return f"not valid JSON ({reason})"
    line = body.count("\n", 0, pos) + 1
    column = pos - body.rfind("\n", 0, pos)
    return f"not valid JSON (line {line}, column {column}: {reason})"


def _not_utf8(error: UnicodeDecodeError) -> str:
    raw, pos = bytes(error.object), error.start
    line = raw.count(b"\n", 0, pos) + 1
    column = pos - raw.rfind(b"\n", 0, pos)
    return (
        f"must be UTF-8 encoded JSON (line {line}, column {column}: the byte 0x{raw[pos]:02x} is not UTF-8)"
    )


def unreadable_form(request: Request, exc: StarletteHTTPException) -> str | None:
    """What was wrong with a form body that could not be parsed ("could not be read as
    multipart/form-data (missing boundary in multipart)"), or None for any other HTTP error.
    Starlette turns the parser's complaint into a bare 400; the API answers it as a 422 on the field
    `body`, the pages as a readable message (web/shared.PageRoute)."""
    if exc.status_code != 400 or not isinstance(exc.__context__, MultiPartException):
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower() or "a form"
    reason = str(exc.detail).strip().rstrip(".")
    if reason[1:2].islower():  # "Missing boundary…" → "missing boundary…"; a leading "CSV…" stays
        reason = reason[0].lower() + reason[1:]
    return f"could not be read as {media} ({reason})"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";")[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def _json_body_sent_as_something_else(request: Request, exc: RequestValidationError) -> bool:
    """A route that reads a JSON body got one under another content type (or none): FastAPI
    then validates the raw bytes ("Input should be a valid dictionary"), when the answer is 415.

    Only routes whose body FastAPI parses as JSON are concerned: form routes (the pages) and
    routes that read the request themselves (the CSV import, inbound e-mail) declare no JSON
    body, and their own content-type checks stand."""
    route = request.scope.get("route")
    body_field = getattr(route, "body_field", None)
    if not isinstance(route, APIRoute) or body_field is None:
        return False
    if isinstance(body_field.field_info, params.Form):  # File derives from Form
        return False
    if _is_json(request.headers.get("content-type", "")):
        return False
    if not (isinstance(exc.body, bytes | bytearray) and exc.body):
        return False  # no body at all: "Field required" says it better
    return any(e["loc"] and e["loc"][0] == "body" for e in exc.errors())


def install_error_handlers(
    app: FastAPI,
    *,
    page_not_found: Callable[[Request], Response] | None = None,
    page_for_a_form_address: Callable[[Request], Response] | None = None,
) -> None:
    """problem+json for the API; `page_not_found` (from the web layer) answers unknown page addresses,
    `page_for_a_form_address` a GET of a page form's POST-only address."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem(
            exc.status_code,
            exc.title,
            exc.detail,
            request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if _json_body_sent_as_something_else(request, exc):
            return problem(
                415,
                "Unsupported media type",
                "Send the request body as JSON with Content-Type: application/json"
                f" (it was sent as {request.headers.get('content-type') or 'no content type'}).",
                request.url.path,
            )
        errors = [_error_item(e, exc.body) for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, "Validation failed", detail, request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's 400 "There was an error parsing the body" for JSON in another encoding
            # (Latin-1 "ä" is the byte 0xe4): a refusal of the field `body`, like any bad JSON.
            error = {"field": "body", "message": _not_utf8(exc.__cause__), "type": "json_invalid"}
            detail = f"body: {error['message']}"
            return problem(422, "Validation failed", detail, request.url.path, errors=[error])
        if (unreadable := unreadable_form(request, exc)) is not None:  # a broken form or multipart body
            error = {"field": "body", "message": unreadable, "type": "form_invalid"}
            return problem(422, "Validation failed", f"body: {unreadable}", request.url.path, errors=[error])
        # A person who mistyped an address in the browser gets a page; API clients keep problem+json.
        if exc.status_code == 404 and page_not_found and not request.url.path.startswith(API_PREFIX):
            return page_not_found(request)
        if (
            exc.status_code == 405
            and request.method == "GET"
            and page_for_a_form_address
            and not request.url.path.startswith(API_PREFIX)
        ):
            return page_for_a_form_address(request)
        titles = {
            404: "Not found",
            405: "Method not allowed",
            401: "Not authenticated",
            413: "Content too large",
        }
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "Error"),
            str(exc.detail),
            request.url.path,
            headers=getattr(exc, "headers", None),
        )
