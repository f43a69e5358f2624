"""uvicorn's httptools protocol with corked writes: what one loop iteration writes leaves in one send().

uvicorn writes a response's status line and headers, then its body, each with
its own `transport.write` (each a send() system call on an idle socket, a good
part of a small request's cost). `CorkedHttpToolsProtocol` hands uvicorn a
transport whose writes are buffered and flushed once at the end of the current
loop iteration (`call_soon`): a complete answer goes out as one segment; a
stream's events go out as they come (at most one iteration later). `close()`
flushes first. Everything else passes through to the real transport.

Disconnect hooks: each request's scope carries `extensions["tessera.disconnect"]`,
a list the app may append callables to; when the client's connection is lost
before the response completed, they are called (asgi.Incoming exposes it as
`disconnect_hooks`; the handler cancels its upstream call that way instead of
running a watcher task per request).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CorkedTransport:
    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._pending: list[bytes] = []
        self._loop = loop

    def write(self, data: bytes) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class CorkedHttpToolsProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CorkedTransport(transport, asyncio.get_running_loop()))  # type: ignore[arg-type]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {HOOKS: []}  # type: ignore[typeddict-unknown-key]

    def connection_lost(self, exc: Exception | None) -> None:
        cycle = self.cycle
        super().connection_lost(exc)
        if cycle is not None and not cycle.response_complete:
            for hook in list(cycle.scope.get("extensions", {}).get(HOOKS, ())):
                hook()


HOOKS = "tessera.disconnect"
