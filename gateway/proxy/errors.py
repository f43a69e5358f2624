"""OpenAI-shaped errors: `{"error": {"message", "type", "param", "code"}}`, raised anywhere, answered once.

| status | type                  | code                          | when |
|--------|-----------------------|-------------------------------|------|
| 400    | invalid_request_error | invalid_value / missing / ... | a malformed body; `param` names the field path |
| 401    | invalid_request_error | invalid_api_key               | no, malformed, unknown, expired or revoked key |
| 402    | insufficient_quota    | budget_exceeded               | the key's budget cannot cover the request |
| 402    | insufficient_quota    | tenant_budget_exceeded        | the tenant's hard spend budget is exhausted this period |
| 404    | invalid_request_error | model_not_found               | no such model for this key (unknown and not-allowed look alike) |
| 404    | invalid_request_error | unknown_url                   | no such route |
| 413    | invalid_request_error | request_too_large             | body over the proxy's limit |
| 429    | rate_limit_error      | rate_limit_exceeded           | the key's rpm/tpm window is full (+ Retry-After) |
| 503    | server_error          | no_replica / upstream_unavailable | no healthy replica, or every one tried failed |

Over budget is 402, not 429: OpenAI SDKs retry 429 automatically (it is
transient by definition), while an exhausted budget stays exhausted until
someone raises it; 402 "Payment Required" says exactly that and is not retried.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response


class JSONAnswer(Response):
    """A complete JSON answer, built without Response.__init__'s header rendering (the hot path's answers)."""

    def __init__(self, body: bytes, status: int = 200, request_id: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.body = body
        self.status_code = status
        self.background = None
        raw = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if request_id is not None:
            raw.append((b"x-request-id", request_id.encode()))
        for name, value in (headers or {}).items():
            raw.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        self.raw_headers = raw


class ProxyError(Exception):
    status = 500
    type = "server_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or type(self).code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> Response:
        return JSONAnswer(orjson.dumps(self.body()), self.status, headers=self.headers)


class BadRequest(ProxyError):
    status, type, code = 400, "invalid_request_error", "invalid_value"


class InvalidKey(ProxyError):
    status, type, code = 401, "invalid_request_error", "invalid_api_key"


class OverBudget(ProxyError):
    status, type, code = 402, "insufficient_quota", "budget_exceeded"


class ModelNotFound(ProxyError):
    status, type, code = 404, "invalid_request_error", "model_not_found"


class UnknownURL(ProxyError):
    status, type, code = 404, "invalid_request_error", "unknown_url"


class TooLarge(ProxyError):
    status, type, code = 413, "invalid_request_error", "request_too_large"


class RateLimited(ProxyError):
    status, type, code = 429, "rate_limit_error", "rate_limit_exceeded"


class Unavailable(ProxyError):
    status, type, code = 503, "server_error", "no_replica"
