"""Reads of the past: `?as_of=<seq or ISO time>` (or header `X-Tessera-As-Of`) on any GET.

- `RegistrySwitch` stands where the routers find `services.registry`: each
  attribute read goes to the registry of the current request — the live one,
  or a past one chosen by the middleware (a ContextVar, so concurrent
  requests never see each other's).
- `AsOf` (pure ASGI middleware, inside the Guard: the caller is
  authenticated and rate limited before any replay is paid for) parses the
  value, resolves a time to the last sequence stored at or before it
  (projections.timetravel), and answers from a Registry built by replaying up
  to that sequence (from an as-of or live snapshot when one fits). Answers
  carry `X-Tessera-As-Of: <seq>`. `as_of` is taken out of the query string
  before the routes see it (they refuse unknown parameters).
- Past registries are cached, bounded (`size`, least recently used dropped);
  one build at a time (a lock), so N different as_of values cost N replays,
  one after the other, never N at once.
- Rejections (JSON errors as everywhere): a non-GET with as_of -> 400 (the
  past is read-only); an unreadable value or a sequence past the live
  position -> 422 with field `as_of`.
- Routes read the request's sequence with `as_of_seq()`: the ClickHouse-backed
  ones (usage, audit) answer from the as-of database or refuse with 409
  (asof_clickhouse.py), never from the present.
Identity (authentication, tenants, users) is always the present one: a token
revoked today does not authenticate against yesterday's state.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from gateway.http.errors import ApiError
from projections.registry import Registry
from projections.snapshots import SnapshotStore
from projections.timetravel import build_past, parse_as_of, resolve

HEADER = "x-tessera-as-of"
_current: ContextVar[Registry | None] = ContextVar("tessera_as_of_registry", default=None)
_seq: ContextVar[int | None] = ContextVar("tessera_as_of_seq", default=None)


def as_of_seq() -> int | None:
    """The sequence the current request reads as of (None: the present). ClickHouse-backed
    routes choose their database by it (asof_clickhouse.py)."""
    return _seq.get()


class RegistrySwitch:
    """The live registry, or the request's past one (attribute reads only)."""

    def __init__(self, live: Registry) -> None:
        self._live = live

    def __getattr__(self, name: str) -> Any:
        return getattr(_current.get() or self._live, name)


class PastRegistries:
    def __init__(self, nc: Any, store: SnapshotStore | None, *, size: int = 4) -> None:
        self.nc = nc
        self.store = store
        self.size = size
        self._cache: OrderedDict[int, Registry] = OrderedDict()
        self._lock = asyncio.Lock()
        self.builds = 0

    async def at(self, seq: int) -> Registry:
        async with self._lock:
            registry = self._cache.get(seq)
            if registry is None:
                registry = Registry()
                await build_past(self.nc, [registry], seq, self.store)
                self.builds += 1
                self._cache[seq] = registry
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(seq)
            return registry


class AsOf:
    def __init__(self, app: Any, *, past: PastRegistries, position: Callable[[], int]) -> None:
        self.app = app
        self.past = past
        self.position = position

    async def __call__(self, scope, receive, send) -> None:
        raw = _as_of(scope) if scope["type"] == "http" else None
        if raw is None:
            return await self.app(scope, receive, send)
        try:
            if scope["method"] not in ("GET", "HEAD"):
                raise ApiError("as_of is for reads only: the past cannot be changed", field="as_of")
            try:
                seq = await resolve(self.past.nc, parse_as_of(raw))
            except ValueError as exc:
                raise ApiError(str(exc), field="as_of", code="invalid", status=422) from None
            if seq > self.position():
                raise ApiError(f"sequence {seq} is past this gateway's position {self.position()}", field="as_of",
                               code="invalid", status=422)
            registry = await self.past.at(seq)
        except ApiError as error:
            return await error.response()(scope, receive, send)

        async def send_with_header(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tessera-as-of", str(seq).encode())]
            await send(message)

        token, seq_token = _current.set(registry), _seq.set(seq)
        try:
            await self.app(_without_as_of(scope), receive, send_with_header)
        finally:
            _current.reset(token)
            _seq.reset(seq_token)


def _as_of(scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == HEADER.encode():
            return value.decode("latin-1")
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("as_of")
    return values[-1] if values else None


def _without_as_of(scope) -> dict:
    """The request as the routes see it: `as_of` is this middleware's, not a route's query parameter."""
    pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {**scope, "query_string": urlencode([(k, v) for k, v in pairs if k != "as_of"]).encode("latin-1")}
