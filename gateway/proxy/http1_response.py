"""One pooled HTTP/1.1 connection (an asyncio Protocol) and the answer being read on it.

Fed by httptools' parser from `data_received`; the reader side waits on one
future at a time, each wait bounded by the client's read timeout (inactivity,
as httpx counts it). See http1.py for the pool and the guarantees.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

MAX_QUEUED = 64  # decoded body chunks buffered before the socket is paused


class ReadTimeout(TimeoutError):
    pass


class Conn(asyncio.Protocol):
    def __init__(self, client, key: tuple) -> None:
        self.client = client
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.closed = False
        self.reused = False
        self.received = False
        self.idle_since = 0.0
        self.parser = httptools.HttpResponseParser(self)  # one per connection: llhttp resets between answers

    def connection_made(self, transport) -> None:
        self.transport = transport

    async def send(self, head: bytes, body: bytes, read_s: float) -> Response:
        self.received = False
        response = self.response = Response(self, read_s)
        try:
            if self.closed:
                raise ConnectionResetError("the upstream closed the connection")
            self.transport.write(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                self.transport.write(body)
            await response.head()
        except BaseException:
            self.close()
            raise
        return response

    def data_received(self, data: bytes) -> None:
        self.received = True
        response = self.response
        if response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response.fail(ConnectionError(f"malformed HTTP answer from the upstream: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        response = self.response
        if response is not None and not response.complete:
            response.fail(ConnectionResetError(f"the upstream closed the connection{f': {exc}' if exc else ''}"))
        self.client._gone(self.key)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.transport.close()

    # -- httptools callbacks, for the answer being read --
    def on_headers_complete(self) -> None:
        self.response.headed(self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        self.response.on_body(body)

    def on_message_complete(self) -> None:
        self.response.completed(self.parser.should_keep_alive())


class Response:
    def __init__(self, conn: Conn, read_s: float) -> None:
        self.conn = conn
        self.read_s = read_s
        self.status_code = 0
        self.content = b""
        self.complete = False
        self.keep_alive = False
        self.error: Exception | None = None
        self._headed = False
        self._chunks: deque[bytes] = deque()
        self._paused = False
        self._waiter: asyncio.Future | None = None
        self._done = False

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    async def head(self) -> None:
        while not self._headed:
            if self.error is not None:
                raise self.error
            await self._wait()

    async def aiter_raw(self):
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                if self._paused and len(self._chunks) < MAX_QUEUED // 2:
                    self._paused = False
                    self.conn.transport.resume_reading()
                yield chunk
            elif self.complete:
                self._release()
                return
            elif self.error is not None:
                raise self.error
            else:
                await self._wait()

    async def aread(self) -> bytes:
        parts = [chunk async for chunk in self.aiter_raw()]
        self.content = parts[0] if len(parts) == 1 else b"".join(parts)
        return self.content

    async def aclose(self) -> None:
        """Back to the pool if the answer was read to its end; otherwise the connection is closed."""
        if not self._done:
            if self.complete:
                self._release()
            else:
                self._done = True
                self.conn.response = None
                self.conn.close()

    # -- fed by the connection's parser --
    def headed(self, status: int) -> None:
        self.status_code = status
        self._headed = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        if len(self._chunks) >= MAX_QUEUED and not self._paused:
            self._paused = True
            self.conn.transport.pause_reading()
        self._wake()

    def completed(self, keep_alive: bool) -> None:
        self.complete = True
        self.keep_alive = keep_alive
        self._wake()

    # -- internals --
    def fail(self, exc: Exception) -> None:
        if self.error is None:
            self.error = exc
        self._wake()

    def _release(self) -> None:
        if not self._done:
            self._done = True
            conn = self.conn
            conn.response = None
            if self.keep_alive and not conn.closed:
                if self._paused:
                    conn.transport.resume_reading()
                conn.client.release(conn)
            else:
                conn.close()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        timer = loop.call_later(self.read_s, self._expired)
        try:
            await self._waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _expired(self) -> None:
        self.fail(ReadTimeout(f"the upstream sent nothing for {self.read_s} s"))
        self.conn.close()
