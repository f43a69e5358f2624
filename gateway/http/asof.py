"""Reads of the past: `?as_of=<seq or ISO time>` (or header `X-Tessera-As-Of`) on any GET.

- `ModelSwitch` stands where the routers find `services.registry`, `.fleet`,
  `.billing` and `.ratecards`: each attribute read goes to that model of the
  current request — the live one, or a past one chosen by the middleware (a
  ContextVar, so concurrent requests never see each other's).
- `AsOf` (pure ASGI middleware, inside the Guard: the caller is
  authenticated and rate limited before any replay is paid for) parses the
  value, resolves a time to the last sequence stored at or before it
  (projections.timetravel), and answers from models (registry, fleet view,
  billing, rate cards: `PAST`) built by replaying up to that sequence (from
  an as-of or live snapshot when one fits). Answers
  carry `X-Tessera-As-Of: <seq>`. `as_of` is taken out of the query string
  before the routes see it (they refuse unknown parameters).
- Past states are cached, bounded (`size`, least recently used dropped);
  one build at a time (a lock), so N different as_of values cost N replays,
  one after the other, never N at once.
- Rejections (JSON errors as everywhere): a non-GET with as_of -> 400 (the
  past is read-only); an unreadable value or a sequence past the live
  position -> 422 with field `as_of`.
- Routes that read "now" against a past model (current billing period, the
  rate card in force, a dry-run's clock) use `as_of_now(s.clock)`: when
  sequence N was stored. Identity-backed answers keep the real clock.
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
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from gateway.http.errors import ApiError
from gateway.http.fleet import FleetView
from projections.billing import BillingModel
from projections.registry import Registry
from projections.snapshots import SnapshotStore
from projections.timetravel import build_past, parse_as_of, resolve, time_of
from projections.usage.ratecards import RateCards

HEADER = "x-tessera-as-of"
PAST: dict[str, Callable[[], Any]] = {"registry": Registry, "fleet": FleetView, "billing": BillingModel,
                                      "ratecards": RateCards}  # the models a past state has (identity: never)
_current: ContextVar[dict[str, Any] | None] = ContextVar("tessera_as_of_models", default=None)
_seq: ContextVar[int | None] = ContextVar("tessera_as_of_seq", default=None)
_when: ContextVar[datetime | None] = ContextVar("tessera_as_of_time", default=None)


def as_of_time() -> datetime | None:
    """When the request's as-of sequence was stored (None: the present): "now" for a read of the past."""
    return _when.get()


def as_of_now(clock: Callable[[], datetime]) -> datetime:
    """"Now" for a read: when the as-of sequence was stored, or `clock()` for the present."""
    return _when.get() or clock()


def as_of_seq() -> int | None:
    """The sequence the current request reads as of (None: the present). ClickHouse-backed
    routes choose their database by it (asof_clickhouse.py)."""
    return _seq.get()


class ModelSwitch:
    """The live model `name`, or the request's past one (attribute reads only)."""

    def __init__(self, live: Any, name: str) -> None:
        self._live = live
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        past = _current.get()
        return getattr(self._live if past is None else past[self._name], attr)


class PastStates:
    def __init__(self, nc: Any, store: SnapshotStore | None, *, size: int = 4) -> None:
        self.nc = nc
        self.store = store
        self.size = size
        self._cache: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._lock = asyncio.Lock()
        self.builds = 0

    async def at(self, seq: int) -> dict[str, Any]:
        async with self._lock:
            models = self._cache.get(seq)
            if models is None:
                models = {name: make() for name, make in PAST.items()}
                await build_past(self.nc, list(models.values()), seq, self.store)
                models["time"] = await time_of(self.nc, seq) if seq > 0 else None
                self.builds += 1
                self._cache[seq] = models
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
            self._cache.move_to_end(seq)
            return models


class AsOf:
    def __init__(self, app: Any, *, past: PastStates, position: Callable[[], int]) -> None:
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
            models = await self.past.at(seq)
        except ApiError as error:
            return await error.response()(scope, receive, send)

        async def send_with_header(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-tessera-as-of", str(seq).encode())]
            await send(message)

        token, seq_token, when_token = _current.set(models), _seq.set(seq), _when.set(models["time"])
        try:
            await self.app(_without_as_of(scope), receive, send_with_header)
        finally:
            _current.reset(token)
            _seq.reset(seq_token)
            _when.reset(when_token)


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
