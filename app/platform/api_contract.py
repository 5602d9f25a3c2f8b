"""The OpenAPI as clients meet the API: every error a route can give, as RFC 9457 problem+json.

FastAPI documents only a route's success and a 422 under `application/json` (its own validation
error body, which the API never sends). One pass over the generated schema adds, for each API
operation, the errors its route can really give, read from the route itself:

- 422 for every operation with input (parameters or a body): validation, or a service's refusal;
- 401 and 403 for the signed-in routes (those depending on `get_current_user`);
- 404 for the routes that take an id (in the path, the query or at the top of a JSON body);
- 409 for the writes of signed-in users (a concurrent edit, an illegal state change);
- 412 for the routes declaring If-Match (`http.IF_MATCH` / `OPTIONAL_IF_MATCH`), 428 when required;
  the Idempotency-Key of the routes declaring it (`http.IDEMPOTENCY_KEY`) as a plain string;
- 413 for every body, 415 for every body that is not a form (a JSON route sent another type);
- 503 for every operation (admission refused it, or the database did not answer).

Routes add what only they know with `responses={status: {"description": ...}}` (the sign-in's
429, inbound e-mail's relay token); every 4xx and 5xx in the schema then gets the Problem schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant

from app.platform.deps import get_current_user
from app.platform.errors import API_PREFIX, PROBLEM
from app.platform.http import IDEMPOTENCY_KEY_MAX, if_match_header, optional_if_match_header

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WRITES = frozenset({"post", "put", "patch", "delete"})
FORM = "application/x-www-form-urlencoded"

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details. Extension members name what the refusal is about.",
        "type": "object",
        "required": ["type", "title", "status", "detail", "instance"],
        "properties": {
            "type": {"type": "string", "description": "always `about:blank`: `status` says the kind"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "for people: what is wrong, what to do"},
            "instance": {"type": "string", "description": "the request's path"},
            "errors": {
                "type": "array",
                "description": "the fields refused (422), each with its message",
                "items": {"$ref": "#/components/schemas/ProblemField"},
            },
            "current_etag": {"type": "string", "description": "412: the resource's ETag now"},
            "current": {"description": "409: the resource's state now (a status)"},
            "allowed": {"type": "array", "description": "409: the states it may move to"},
            "hint": {"type": "string", "description": "409: what would make the change possible"},
        },
        "additionalProperties": True,
    },
    "ProblemField": {
        "title": "ProblemField",
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "field": {"type": "string", "description": "dotted path: `body`, `shifts.0.ends`, `q`"},
            "message": {"type": "string"},
            "type": {"type": "string", "description": "the kind of check, e.g. `json_invalid`"},
            "line": {"type": "integer", "description": "imports: the line of the file"},
        },
        "additionalProperties": True,
    },
}

DESCRIPTIONS = {
    401: "Not signed in, or the token is no longer valid",
    403: "Signed in without the right to do this (or a change sent with the page cookie)",
    404: "Nothing with this id (or not visible to you)",
    409: "Changed by someone else at the same time, or not possible in the resource's state",
    412: "If-Match is not the resource's current ETag (`current_etag` has it)",
    413: "The request body is over this address's limit",
    415: "The body was sent with a content type this route does not read",
    422: "Validation failed: `errors` names each field",
    428: "If-Match is missing",
    429: "Too many requests; see Retry-After",
    503: "Busy or the database is unavailable; retry after Retry-After seconds",
}


def install_api_contract(app: FastAPI) -> None:
    """Make `app.openapi()` (and /openapi.json) carry the error responses; call after the routers."""
    generate = app.openapi
    annotated: list[dict[str, Any]] = []  # the schema object last annotated (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        schema = generate()
        if not annotated or annotated[0] is not schema:
            annotate(schema, app.routes)
            annotated[:] = [schema]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def annotate(schema: dict[str, Any], routes: list[Any]) -> None:
    """Add the Problem schemas and each API operation's error responses to `schema`, in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(PROBLEM_SCHEMAS)
    for context in routing.iter_route_contexts(routes):
        route = context.original_route
        if not isinstance(route, routing.APIRoute) or not route.include_in_schema:
            continue
        path = context.path_format
        if not path or not path.startswith(API_PREFIX) or path not in schema["paths"]:
            continue
        calls = set(_calls(context.dependant))
        for method in context.methods or ():
            operation = schema["paths"][path].get(method.lower())
            if operation is not None:
                _annotate_operation(operation, method.lower(), calls, components)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, never sent
        others = json.dumps([schema["paths"], {k: v for k, v in components.items() if k != unused}])
        if unused in components and f'"#/components/schemas/{unused}"' not in others:
            del components[unused]


def _annotate_operation(
    operation: dict[str, Any], method: str, calls: set[Callable[..., Any]], components: dict[str, Any]
) -> None:
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    signed_in = get_current_user in calls
    statuses = {503}
    if parameters or body:
        statuses.add(422)
    if signed_in:
        statuses |= {401, 403}
    if _takes_an_id(parameters, body, components):
        statuses.add(404)
    if signed_in and method in WRITES:
        statuses.add(409)
    if if_match_header in calls or optional_if_match_header in calls:
        statuses |= {409, 412}
    if if_match_header in calls:
        statuses.add(428)
    for p in parameters:
        if p["in"] == "header" and p["name"].lower() == "if-match":
            # A header is a string, never null; a missing one is the endpoint's 428 (FastAPI takes
            # it as optional, so that the absence does not become a 422).
            p["schema"] = {"type": "string", "title": "If-Match"}
            p["required"] = if_match_header in calls
        elif p["in"] == "header" and p["name"].lower() == "idempotency-key":
            p["schema"] = {"type": "string", "title": "Idempotency-Key", "maxLength": IDEMPOTENCY_KEY_MAX}
    if body:
        statuses.add(413)
        if set(body) - {FORM}:
            statuses.add(415)
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {})
    for key, response in responses.items():
        if key.isdecimal() and int(key) >= 400:
            _problem_response(int(key), response)
    operation["responses"] = dict(sorted(responses.items()))


def _takes_an_id(parameters: list[dict[str, Any]], body: dict[str, Any], components: dict[str, Any]) -> bool:
    """An id in the path, an `…_id` in the query or at the top of a JSON body: a row that may not
    exist (or not for this user), which is a 404."""
    if any(p["in"] == "path" or (p["in"] == "query" and _is_id(p["name"])) for p in parameters):
        return True
    schema = body.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    properties = components.get(ref.rpartition("/")[2], {}).get("properties", {}) if ref else {}
    return any(_is_id(name) for name in properties)


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith(("_id", "_ids"))


def _problem_response(status: int, response: dict[str, Any]) -> None:
    response.setdefault("description", DESCRIPTIONS.get(status, "Refused"))
    content = response.setdefault("content", {})
    default = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    if default.endswith("/HTTPValidationError"):
        del content["application/json"]
    content[PROBLEM] = {"schema": PROBLEM_REF}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every dependency callable of a route, however deep (role checks depend on the user)."""
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
