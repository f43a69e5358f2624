"""Errors -> HTTP, in one place: every 4xx/5xx the gateway sends is built here.

Body (always JSON): `{"error": {"code", "message", "field", ...}}`; `field` is
the path of the problem (`spec.tasks[2].gpus`, `page_size`,
`header.Idempotency-Key`) or null. Codes by status:

    400 bad_request   malformed query (cursor, sort, filter), unreadable body
    401 unauthenticated  no, unknown, expired or revoked token
    403 forbidden     the caller's role may not do this
    404 not_found     missing, or another tenant's: the two answer byte-identically
    409 conflict      the domain refused (state conflict, illegal transition);
        idempotency_mismatch  the Idempotency-Key was used with another body
    413 too_large     body above the limit
    422 invalid       a value is wrong; `problems` lists every problem [{path, message}]
    429 rate_limited  with `Retry-After` (seconds)
    503 unavailable / usage_unavailable / command_failed

A refusal from a domain (a `DomainError` raised here, or a command's dead
letter reason `<code> at <field>: <message>`) keeps its own code in `reason`.
Unexpected exceptions answer 500 `internal` with no detail (logged, never
shown: no stack traces to users). A client that disconnects mid-request is
logged as one INFO line (no stack trace) and answered nothing.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.routing import Match

from domains.errors import DomainError
from projections.registry.paging import InvalidQuery

log = logging.getLogger("tessera.gateway")

CONFLICT_CODES = {"conflict", "illegal_transition", "already_bootstrapped", "node_removed", "not_cordoned",
                  "not_preemptible", "job_not_on_node", "gpu_conflict", "wrong_job", "wrong_workflow",
                  "inconsistent_job_history", "rate_card_version_conflict"}
_REASON = re.compile(r"^(?:rejected: )?([a-z][a-z0-9_]*) at (\S*): (.*)$", re.DOTALL)


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None,
                 status: int | None = None, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field or None
        self.code = code or self.code
        self.status = status or self.status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "field": self.field, **self.extra}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthenticated(ApiError):
    status, code = 401, "unauthenticated"

    def __init__(self, message: str = "a valid bearer token is required (Authorization: Bearer tsk_...)") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class TooLarge(ApiError):
    status, code = 413, "too_large"


class Invalid(ApiError):
    status, code = 422, "invalid"

    def __init__(self, problems: list[tuple], message: str | None = None) -> None:
        """`problems`: (path, message) or (path, message, line) tuples, first one first."""
        first = problems[0] if problems else ("", "invalid request")
        text = message or (f"{first[0]}: {first[1]}" if first[0] else first[1])
        if len(problems) > 1 and message is None:
            text += f" (and {len(problems) - 1} more)"
        listed = [{"path": p[0], "message": p[1], **({"line": p[2]} if len(p) > 2 and p[2] else {})}
                  for p in problems]
        super().__init__(text, field=first[0] or None, problems=listed)


class RateLimited(ApiError):
    status, code = 429, "rate_limited"


class Unavailable(ApiError):
    status, code = 503, "unavailable"


def missing(kind: str, id: str) -> NotFound:
    """The one answer for a missing id and another tenant's id (S1: identical bodies)."""
    return NotFound(f"{kind} {id!r} not found", field=None)


def status_of(code: str) -> tuple[int, str]:
    if code == "not_found" or code.endswith("_not_found"):
        return 404, "not_found"
    if code in CONFLICT_CODES or code.endswith(("_exists", "_conflict")):
        return 409, "conflict"
    return 422, "invalid"


def from_domain(code: str, field: str | None, message: str) -> ApiError:
    status, generic = status_of(code)
    field = None if field in (None, "", "$") else field
    extra = {"reason": code} if code != generic else {}
    if status == 422:
        return ApiError(message, field=field, code=generic, status=status,
                        problems=[{"path": field or "", "message": message}], **extra)
    return ApiError(message, field=field, code=generic, status=status, **extra)


def from_dead_letter(reason: str) -> ApiError:
    """A command's dead-letter reason -> the answer; a non-domain failure is the bus's problem, not the caller's."""
    match = _REASON.match(reason)
    if match is None:
        log.error("command dead-lettered without a domain reason: %s", reason)
        return ApiError("the command could not be processed; try again later", code="command_failed", status=503)
    return from_domain(match[1], match[2], match[3])


def render_path(loc: tuple | list, prefix: str = "") -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("[key]",):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def from_validation(exc: ValidationError, prefix: str = "") -> Invalid:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p and p.endswith("]"))]  # union tags
        problems.append((render_path(loc, prefix), _message(err)))
    return Invalid(problems)


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return err["msg"].removeprefix("Value error, ")


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return exc.response()


async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
    return from_domain(exc.code, exc.field, exc.message).response()


async def _invalid_query(_: Request, exc: InvalidQuery) -> JSONResponse:
    return BadRequest(f"{exc.field}: {exc.problem}", field=exc.field).response()


async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = loc[0] if loc else ""
        rest = loc[1:] if where in ("query", "path", "header", "cookie", "body") else loc
        path = render_path(rest, "header." if where == "header" else "")
        problems.append((path, _message(err)))
    return Invalid(problems).response()


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's own Allow names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"}) if hasattr(route, "matches") else (None, None)
        if match is not None and match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {404: "not_found", 405: "method_not_allowed", 400: "bad_request", 401: "unauthenticated",
            403: "forbidden", 413: "too_large", 415: "unsupported_media_type"}.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = "no such route"
    field = "body" if exc.status_code in (400, 413) else None
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return ApiError(message, code=code, status=exc.status_code, field=field, headers=headers).response()


async def _disconnected(request: Request, _: ClientDisconnect) -> Response:
    """The caller went away mid-request: theirs, not ours (one line, no stack trace); nothing can be answered."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=499)  # nginx's "client closed request": for the access log; never delivered


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc,
              exc_info=exc)
    return ApiError("internal error", code="internal", status=500).response()


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(InvalidQuery, _invalid_query)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _disconnected)  # before Exception: no 500, no trace
    app.add_exception_handler(Exception, _unexpected)
