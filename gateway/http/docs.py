"""OpenAPI documentation of error answers: `errors(404, 409)` for a route's `responses=`.

Every route documents 422 (any parameter can be invalid) and 429 (rate
limit), authenticated ones also 401 and 403, in addition to what it names;
every error response has the `ErrorBody` schema (replacing FastAPI's default
422 schema, which is not what this API answers).
"""

from __future__ import annotations

from gateway.http.models import ErrorBody

WHAT = {
    400: "malformed request (cursor, sort, filter, body syntax)",
    401: "no valid bearer token",
    403: "the caller's role may not do this, or another tenant was named",
    404: "no such object (or another tenant's: identical answer)",
    409: "refused by the object's state (conflict, illegal transition) or Idempotency-Key reused with another body",
    413: "request body too large",
    415: "unsupported Content-Type",
    422: "invalid values: `field` and `problems` name every offending path",
    429: "rate limit: retry after `Retry-After` seconds",
    503: "a backing service is unavailable",
}
AUTH = (401, 403, 429)


def errors(*statuses: int, auth: bool = True) -> dict:
    codes = sorted(set(statuses) | {422, 429} | (set(AUTH) if auth else set()))
    return {code: {"model": ErrorBody, "description": WHAT[code]} for code in codes}


COMMAND = (400, 404, 409, 422, 503)
SPEC_UPLOAD = (400, 409, 413, 415, 422, 503)
