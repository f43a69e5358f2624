"""One inference request, end to end: key, body, model, limits, replica, answer, settlement, usage record.

Order (each step refuses with an OpenAI-shaped error, nothing reserved yet
unless said): 401 bad key -> 413/400 body -> 404 model not allowed for the key
or not served to its tenant (one answer for both: a key learns nothing about
models it may not use) -> 402 the tenant's hard budget is exhausted
(budgets.py) -> limits reserve (429 / 402) -> replicas.

From the reservation on, the request always ends in `finish(meter)`: the
limiter settles to the tokens the engine reported and one usage record is
queued, whatever happened (served, refused by the engine, no replica, client
gone); the key's spend after settling feeds its budget alerts (alerts.py,
off the request path). Replica attempts: up to `max_attempts` distinct replicas, least loaded
first; a replica that fails before anything reached the client (UpstreamFailed)
is ejected for a few seconds and the next one is tried. A client that
disconnects while a complete (non-streaming) answer is awaited cancels the
upstream call (its connection is closed: the engine aborts); streams do the
same in streaming.Relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from starlette.requests import Request
from starlette.responses import Response

from domains.identity import KeyPrincipal
from gateway.proxy.bodies import InferenceRequest, parse
from gateway.proxy.errors import (
    InvalidKey,
    JSONAnswer,
    ModelNotFound,
    TooLarge,
    Unavailable,
)
from gateway.proxy.meter import Meter
from gateway.proxy.settings import ProxySettings
from gateway.proxy.streaming import Relay
from gateway.proxy.upstream import UpstreamFailed, open_stream, post

log = logging.getLogger("tessera.proxy")


def utc_now() -> datetime:
    return datetime.now(UTC)


class Proxy:
    def __init__(self, *, identity, replicas, limits, prices, usage, client, settings: ProxySettings | None = None,
                 clock: Callable[[], datetime] = utc_now, budgets=None, alerts=None) -> None:
        self.identity = identity
        self.replicas = replicas
        self.limits = limits
        self.prices = prices
        self.usage = usage
        self.client = client
        self.settings = settings or ProxySettings()
        self.clock = clock
        self.budgets = budgets  # tenant spend budgets (budgets.TenantBudgets); None: not enforced
        self.alerts = alerts  # key budget alerts (alerts.BudgetAlerts); None: not reported

    def authenticate(self, request: Request) -> KeyPrincipal:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        principal = None
        if scheme.lower() == "bearer" and key.strip():
            try:
                principal = self.identity.authenticate_key(key.strip(), self.clock())
            except Exception:  # noqa: BLE001 - a malformed key is no key; never echo it
                principal = None
        if principal is None:
            raise InvalidKey("Incorrect or missing API key. Pass `Authorization: Bearer tsk-live-...` with a "
                             "valid, unrevoked key.")
        return principal

    def models(self, request: Request) -> Response:
        principal = self.authenticate(request)
        data = [{"id": e.model, "object": "model", "created": int(e.updated.timestamp()), "owned_by": e.tenant}
                for e in self.replicas.models(principal.tenant) if principal.allows(e.model)]
        return JSONAnswer(orjson.dumps({"object": "list", "data": sorted(data, key=lambda m: m["id"])}))

    async def serve(self, endpoint: str, request: Request) -> Response:
        start = self.clock()
        principal = self.authenticate(request)
        req = parse(endpoint, await self._body(request))
        if not principal.allows(req.model) or not self.replicas.serves(principal.tenant, req.model):
            raise ModelNotFound(f"The model `{req.model}` does not exist or you do not have access to it.",
                                param="model")
        if self.budgets is not None:
            self.budgets.check(principal.tenant, start)
        completion = 0 if endpoint == "embeddings" else req.max_tokens or self.settings.default_max_tokens
        price = self.prices.per_1k(req.model, start) if principal.budget is not None else None
        reservation = await self.limits.reserve(principal, req.prompt_estimate + completion, price, req.model)
        meter = Meter(uuid.uuid4().hex, principal.tenant, principal.key_id, req, start)

        async def finish(m: Meter) -> None:
            try:
                spent = await self.limits.settle(reservation, m.tokens)
            except Exception as exc:  # noqa: BLE001 - the counts stay at the reservation (errs toward refusing)
                log.warning("settling %s failed: %s", m.request_id, exc)
            else:
                if spent is not None and self.alerts is not None:
                    self.alerts.check(principal, spent)
            self.usage.record(m.fields())

        try:
            if req.stream:
                return await self._stream(request, req, principal, meter, finish)
            response = await self._complete(request, req, principal, meter)
        except BaseException:
            await finish(meter)
            raise
        await finish(meter)
        return response

    async def _complete(self, request: Request, req: InferenceRequest, p: KeyPrincipal, meter: Meter) -> Response:
        body = await request.body()
        for replica in self._replicas(p, req, meter):
            with self.replicas.using(replica):
                try:
                    answer = await _unless_disconnected(request, post(
                        self.client, replica.entry.url + req.path, body, meter.request_id))
                except UpstreamFailed as exc:
                    self._failed(replica, exc, meter)
                    continue
            if answer is None:
                meter.outcome, meter.status = "aborted", 499
                return Response(status_code=499)
            meter.served_by(replica.entry)
            meter.status = answer.status_code
            meter.outcome = "ok" if answer.status_code < 400 else "error"
            with contextlib.suppress(ValueError):
                meter.usage(orjson.loads(answer.content).get("usage"))
            return JSONAnswer(answer.content, answer.status_code, meter.request_id)
        raise self._unavailable(req, meter)

    async def _stream(self, request: Request, req: InferenceRequest, p: KeyPrincipal, meter: Meter, finish):
        options = req.body.get("stream_options")
        client_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        upstream = {**req.body, "stream_options": {**(options if isinstance(options, dict) else {}),
                                                   "include_usage": True}}
        body = orjson.dumps(upstream)
        for replica in self._replicas(p, req, meter):
            replica.inflight += 1
            try:
                response, events, first = await open_stream(self.client, replica.entry.url + req.path, body,
                                                             meter.request_id)
            except BaseException as exc:
                replica.inflight -= 1
                if not isinstance(exc, UpstreamFailed):
                    raise
                self._failed(replica, exc, meter)
                continue
            meter.served_by(replica.entry)
            if events is None:  # the engine refused (4xx): its answer, as is
                replica.inflight -= 1
                meter.status, meter.outcome = response.status_code, "error"
                await response.aclose()
                await finish(meter)
                return JSONAnswer(response.content, response.status_code, meter.request_id)

            async def done(m: Meter, replica=replica) -> None:
                replica.inflight -= 1
                await finish(m)

            return Relay(meter, response, events, first, client_usage=client_usage, finish=done,
                         headers=[(b"x-request-id", meter.request_id.encode())])
        raise self._unavailable(req, meter)

    def _replicas(self, p: KeyPrincipal, req: InferenceRequest, meter: Meter):
        tried: set[str] = set()
        while meter.attempts < self.settings.max_attempts:
            replica = self.replicas.pick(p.tenant, req.model, tried)
            if replica is None:
                return
            tried.add(replica.key)
            meter.attempts += 1
            yield replica

    def _failed(self, replica, exc: Exception, meter: Meter) -> None:
        log.warning("request %s: replica %s failed (%s); ejected for %.0f s", meter.request_id, replica.key, exc,
                    self.replicas.eject_s)
        self.replicas.eject(replica)

    def _unavailable(self, req: InferenceRequest, meter: Meter) -> Unavailable:
        meter.status, meter.outcome = 503, "error"
        if meter.attempts == 0:
            return Unavailable(f"no replica of `{req.model}` can take requests right now; retry shortly",
                               code="no_replica", headers={"Retry-After": "1"})
        return Unavailable(f"the {meter.attempts} replica(s) of `{req.model}` tried all failed; retry shortly",
                           code="upstream_unavailable", headers={"Retry-After": "1"})

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        body = await request.body()
        if len(body) > limit:
            raise TooLarge(f"the request body is larger than {limit} bytes")
        return body


async def _unless_disconnected(request: Request, call):
    """The call's result, or None (call cancelled) if the client disconnects first.

    The client going away cancels this task (then the call closes its upstream
    connection): through the server's disconnect hooks when it offers them
    (serving.py), else through a watcher task reading `http.disconnect`.
    """
    task = asyncio.current_task()
    gone = False

    def cancel() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    async def watch() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        cancel()

    hooks = getattr(request, "disconnect_hooks", None)
    watcher = None
    if hooks is not None:
        hooks.append(cancel)
    else:
        watcher = asyncio.ensure_future(watch())
    try:
        return await call
    except asyncio.CancelledError:
        if gone:
            task.uncancel()
            return None
        raise
    finally:
        if watcher is not None:
            watcher.cancel()
        else:
            hooks.remove(cancel)
