"""The proxy's pooled HTTP/1.1 client (gateway/proxy/http1.py) against a real socket server.

A scripted asyncio server stands in for an engine: it counts connections and
answers per request as the test says (content-length, chunked, slow, or by
closing the connection). Checked: keep-alive reuse, chunked bodies streamed in
order, the keep-alive race (a reused connection the server dropped is retried
once on a fresh one), cancellation closes the connection, the per-host
connection cap, read timeouts and refused connections as UpstreamFailed.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.proxy.http1 import Client
from gateway.proxy.upstream import UpstreamFailed, post
from tests.integration.test_proxy_standin import free_port


class Scripted:
    def __init__(self, answer) -> None:
        self.answer = answer  # async (n: request number on this connection, writer) -> bool (keep going)
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.eofs = 0
        self.server = None

    async def handle(self, reader, writer) -> None:
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        n = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                if not await self.answer(n, reader, writer):
                    break
                n += 1
        except asyncio.IncompleteReadError:
            self.eofs += 1
        finally:
            self.open -= 1
            writer.close()

    async def __aenter__(self) -> str:
        port = free_port()
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port)
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        self.server.close()


async def ok(n, reader, writer) -> bool:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
    return True


async def test_keep_alive_connections_are_reused_and_chunked_bodies_streamed_in_order():
    async def chunked(n, reader, writer) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for part in (b"one ", b"two ", b"three"):
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        return True

    server = Scripted(chunked)
    client = Client()
    async with server as url:
        parts = []
        response = await client.request("POST", url + "/v1/x", b"{}")
        async for chunk in response.aiter_raw():
            parts.append(chunk)
        assert parts == [b"one ", b"two ", b"three"]
        for _ in range(3):
            response = await client.request("POST", url + "/v1/x", b"{}")
            assert (response.status_code, await response.aread()) == (200, b"one two three")
    assert server.connections == 1
    await client.aclose()


async def test_a_reused_connection_the_server_dropped_is_retried_once_on_a_fresh_one():
    async def once(n, reader, writer) -> bool:
        if n == 0:
            return await ok(n, reader, writer)
        return False  # second request on this connection: hang up without answering (keep-alive race)

    server = Scripted(once)
    client = Client()
    async with server as url:
        for _ in range(3):
            answer = await post(client, url + "/v1/x", b"{}", "rid")
            assert (answer.status_code, answer.content) == (200, b"hello")
    assert server.connections == 3
    await client.aclose()


async def test_cancelling_a_call_closes_its_connection_and_the_pool_does_not_reuse_it():
    async def slow(n, reader, writer) -> bool:
        if n == 0 and server.connections == 1:
            await asyncio.sleep(0.2)
            if reader.at_eof():
                return False
        return await ok(n, reader, writer)

    server = Scripted(slow)
    client = Client()
    async with server as url:
        call = asyncio.ensure_future(post(client, url + "/v1/x", b"{}", "rid"))
        await asyncio.sleep(0.05)
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await call
        answer = await post(client, url + "/v1/x", b"{}", "rid")
        assert answer.content == b"hello"
        await asyncio.sleep(0.3)
    assert server.connections == 2, "the cancelled call's connection was closed, a new one served the next"
    await client.aclose()


async def test_connections_per_host_are_capped_and_waiting_callers_are_served():
    async def slowish(n, reader, writer) -> bool:
        await asyncio.sleep(0.02)
        return await ok(n, reader, writer)

    server = Scripted(slowish)
    client = Client(max_connections=2)
    async with server as url:
        answers = await asyncio.gather(*(post(client, url + "/v1/x", b"{}", f"r{k}") for k in range(10)))
    assert [a.content for a in answers] == [b"hello"] * 10
    assert server.max_open <= 2
    await client.aclose()


async def test_a_silent_upstream_times_out_and_a_refused_connection_fails_over():
    async def silent(n, reader, writer) -> bool:
        await asyncio.sleep(5)
        return False

    client = Client(read_s=0.2)
    async with Scripted(silent) as url:
        with pytest.raises(UpstreamFailed, match="ReadTimeout"):
            await post(client, url + "/v1/x", b"{}", "rid")
    with pytest.raises(UpstreamFailed):
        await post(client, f"http://127.0.0.1:{free_port()}/v1/x", b"{}", "rid")
    await client.aclose()
