"""A minimal pooled HTTP/1.1 client for the proxy -> engine hop: keep-alive connections, streamed bodies.

Why not httpx: its pool scans every connection on each request and its
anyio streams cost ~1 ms of CPU per request, more than the whole budget of P5.
The engines speak plain HTTP/1.1 (vLLM, llama.cpp, the stand-in), so this is
an asyncio Protocol per connection with httptools' parser (llhttp: content-length
and chunked bodies, keep-alive) and a LIFO idle list per (host, port).

Guarantees:
- one request per connection at a time; a connection goes back to the pool only
  after its answer was read to the end and the server allows keep-alive;
  anything else (cancelled, failed, half-read) closes it, which is how a caller
  cancels an engine's work;
- `request()` returns once the status line and headers are in; the body is
  then read with `aread()` or `aiter_raw()` (decoded chunks, back-pressure:
  the socket is paused while 64 chunks wait);
- a reused connection that the server had closed (keep-alive race) is retried
  once on a new connection if no byte of the answer arrived; every other failure
  raises an `OSError` (ConnectionError / TimeoutError) to the caller;
- at most `max_connections` per (host, port); more callers wait for one.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from urllib.parse import urlsplit

from gateway.proxy.http1_response import Conn, Response

__all__ = ["Client", "Response"]


class Client:
    def __init__(self, *, max_connections: int = 1024, connect_s: float = 2.0, read_s: float = 600.0,
                 keepalive_s: float = 4.0) -> None:
        self.max_connections = max_connections
        self.connect_s = connect_s
        self.read_s = read_s
        self.keepalive_s = keepalive_s  # below uvicorn's 5 s default: we drop idle ones before the server does
        self._idle: dict[tuple, list[Conn]] = {}
        self._open: dict[tuple, int] = {}
        self._waiting: dict[tuple, deque[asyncio.Future]] = {}
        self._targets: dict[str, tuple] = {}
        self._ssl: ssl.SSLContext | None = None
        self.closed = False

    async def request(self, method: str, url: str, body: bytes, headers: bytes = b"") -> Response:
        target = self._target(url)
        head = b"%s %s HTTP/1.1\r\nhost: %s\r\ncontent-length: %d\r\n%s\r\n" % (
            method.encode(), target[3], target[4], len(body), headers)
        for attempt in (0, 1):
            conn = await self._acquire(target)
            try:
                return await conn.send(head, body, self.read_s)
            except ConnectionError:
                if conn.reused and not conn.received and attempt == 0:
                    continue  # the server closed it while idle: once more on a fresh connection
                raise
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()

    def _target(self, url: str) -> tuple:
        target = self._targets.get(url)
        if target is None:
            parts = urlsplit(url)
            tls = parts.scheme == "https"
            port = parts.port or (443 if tls else 80)
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            target = (parts.hostname, port, tls, path.encode(), parts.netloc.encode())
            if len(self._targets) > 4096:
                self._targets.clear()
            self._targets[url] = target
        return target

    async def _acquire(self, target: tuple) -> Conn:
        key = target[:3]
        idle = self._idle.get(key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_s:
                conn.reused = True
                return conn
            conn.close()
        while self._open.get(key, 0) >= self.max_connections:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, deque()).append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake(key)  # woken, then cancelled: pass the turn on
                raise
            if idle := self._idle.get(key):
                conn = idle.pop()
                if not conn.closed:
                    conn.reused = True
                    return conn
        self._open[key] = self._open.get(key, 0) + 1
        try:
            return await self._connect(key)
        except BaseException:
            self._gone(key)
            raise

    async def _connect(self, key: tuple) -> Conn:
        host, port, tls = key
        if tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        loop = asyncio.get_running_loop()
        try:
            transport, conn = await asyncio.wait_for(
                loop.create_connection(lambda: Conn(self, key), host, port, ssl=self._ssl if tls else None),
                self.connect_s)
        except TimeoutError:
            raise ConnectTimeout(f"connecting to {host}:{port} took over {self.connect_s} s") from None
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    # -- called by connections --
    def release(self, conn: Conn) -> None:
        if self.closed or conn.closed:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)
        self._wake(conn.key)

    def _gone(self, key: tuple) -> None:
        self._open[key] = max(0, self._open.get(key, 0) - 1)
        self._wake(key)

    def _wake(self, key: tuple) -> None:
        waiting = self._waiting.get(key)
        while waiting:
            waiter = waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class ConnectTimeout(TimeoutError):
    pass

