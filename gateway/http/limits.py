"""Abuse limits (RELIABILITY S4): body size, request rate, page size.

- `Guard` (pure ASGI middleware, outermost after logging) authenticates the
  bearer token once per request (auth.authenticate; the principal is left in
  `request.state.principal`), then takes one token from a bucket: per token id
  for an authenticated caller (`rate`/`burst`), per client address otherwise
  (`anon_rate`/`anon_burst`, also for unknown or revoked tokens). An empty
  bucket answers 429 with `Retry-After` (whole seconds until a token is there)
  before any work is done.
- Bodies: a `Content-Length` above `max_body_bytes` answers 413 at once; a
  body without one (chunked) is counted while it is read and the read raises
  an HTTPException(413) as soon as the limit is passed (errors.py turns it
  into `too_large`), so nothing above the limit is ever buffered.
- Page sizes: `page_size` is bounded by the settings in the route's query
  definition (pages.py); above the maximum answers 422.

Buckets are per replica (in memory, bounded: the least recently used keys are
dropped beyond `max_keys`); N replicas allow up to N times the rate.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.exceptions import HTTPException

from gateway.http.errors import RateLimited, TooLarge


class TokenBuckets:
    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """0.0 if a token was taken, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


class Guard:
    def __init__(self, app, *, authenticate: Callable, tokens: TokenBuckets, anonymous: TokenBuckets,
                 max_body_bytes: int) -> None:
        self.app = app
        self.authenticate = authenticate  # (scope) -> Principal | None
        self.tokens = tokens
        self.anonymous = anonymous
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        principal = self.authenticate(scope)
        scope.setdefault("state", {})["principal"] = principal
        if principal is not None:
            wait = self.tokens.take(f"token:{principal.token_id}")
        else:
            client = scope.get("client")
            wait = self.anonymous.take(f"addr:{client[0] if client else '?'}")
        if wait > 0:
            error = RateLimited(f"too many requests: retry in {retry_after(wait)} s",
                                headers={"Retry-After": retry_after(wait)})
            return await error.response()(scope, receive, send)
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            return await self._too_large()(scope, receive, send)
        await self.app(scope, self._counting(receive), send)

    def _too_large(self):
        return TooLarge(f"request body larger than {self.max_body_bytes} bytes", field="body").response()

    def _counting(self, receive):
        seen = 0
        limit = self.max_body_bytes

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # an HTTPException passes through FastAPI's own body reading unchanged
                    raise HTTPException(413, f"request body larger than {limit} bytes")
            return message

        return counted


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
