"""Relaying an engine's SSE stream to the client, metering it, and cancelling it when the client leaves.

`Relay` is an ASGI response: it sends the events as they arrive (bytes as
the engine wrote them), watches the client's side of the connection at the
same time (through the server's disconnect hooks, serving.py, where offered;
else a task reading `http.disconnect`), and ends in exactly one of three ways:
- the engine sent `data: [DONE]` (or closed after its last event): outcome "ok";
- the client disconnected: the relay task is cancelled, the upstream response
  is closed, which closes its connection and makes the engine abort the
  request (vLLM and llama.cpp both stop generating on a closed socket):
  outcome "aborted", status 499 in the record;
- the engine broke mid-stream: an OpenAI-shaped error event is sent, then the
  stream ends: outcome "aborted". (No retry: bytes were already sent.)
In every case `finish(meter)` runs once, after the upstream is closed.

The proxy always asks the engine for `stream_options.include_usage`; the
final usage-only chunk is passed on only if the client asked for it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import orjson
from starlette.responses import Response

from gateway.proxy.http1 import Response as Upstream
from gateway.proxy.meter import Meter
from gateway.proxy.serving import HOOKS
from gateway.proxy.upstream import data_of

SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]
DONE = b"[DONE]"


class Relay(Response):
    def __init__(self, meter: Meter, response: Upstream, events, first: bytes, *, client_usage: bool,
                 finish: Callable[[Meter], Awaitable[None]], headers: list[tuple[bytes, bytes]]) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")  # a Response, so FastAPI passes it through
        self.meter = meter
        self.response = response
        self.events = events
        self.first = first
        self.client_usage = client_usage
        self.finish = finish
        self.sse_headers = SSE_HEADERS + headers

    async def __call__(self, scope, receive, send) -> None:
        hooks = (scope.get("extensions") or {}).get(HOOKS)
        if hooks is not None:  # the server calls us when the client goes (serving.py): no watcher task needed
            await self._relay_hooked(hooks, send)
            return
        pump = asyncio.create_task(self._pump(send))
        listen = asyncio.create_task(_disconnected(receive))
        try:
            await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
            if not pump.done():
                self.meter.outcome, self.meter.status = "aborted", 499
            for task in (pump, listen):
                task.cancel()
            for task in (pump, listen):
                with contextlib.suppress(BaseException):
                    await task
        finally:
            with contextlib.suppress(Exception):
                await self.response.aclose()
            await self.finish(self.meter)

    async def _relay_hooked(self, hooks: list, send) -> None:
        task = asyncio.current_task()
        gone = False

        def cancel() -> None:
            nonlocal gone
            gone = True
            task.cancel()

        hooks.append(cancel)
        try:
            await self._pump(send)
        except asyncio.CancelledError:
            if not gone:
                raise
            task.uncancel()
            self.meter.outcome, self.meter.status = "aborted", 499
        finally:
            hooks.remove(cancel)
            with contextlib.suppress(Exception):
                await self.response.aclose()
            await self.finish(self.meter)

    async def _pump(self, send) -> None:
        self.meter.status = 200
        await send({"type": "http.response.start", "status": 200, "headers": self.sse_headers})
        self.meter.outcome = "aborted"  # until the end is seen
        try:
            if await self._forward(self.first, send):
                async for event in self.events:
                    if not await self._forward(event, send):
                        break
            self.meter.outcome = "ok"
        except OSError as exc:
            error = {"error": {"message": f"the model server failed mid-stream: {type(exc).__name__}",
                               "type": "server_error", "param": None, "code": "upstream_failed"}}
            await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(error) + b"\n\n",
                        "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _forward(self, event: bytes, send) -> bool:
        """Send one event on; False once the stream is complete."""
        data = data_of(event)
        if data is None:
            return True
        if data == DONE:
            await send({"type": "http.response.body", "body": event + b"\n\n", "more_body": True})
            return False
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            chunk = None
        if isinstance(chunk, dict):
            if chunk.get("usage"):
                self.meter.usage(chunk["usage"])
            choices = chunk.get("choices")
            if choices:
                if any(_has_content(c) for c in choices if isinstance(c, dict)):
                    self.meter.chunk()
            elif chunk.get("usage") and not self.client_usage:
                return True  # the usage-only chunk the client did not ask for
        await send({"type": "http.response.body", "body": event + b"\n\n", "more_body": True})
        return True


def _has_content(choice: dict) -> bool:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        return bool(delta.get("content") or delta.get("reasoning_content") or delta.get("tool_calls"))
    return bool(choice.get("text"))


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
