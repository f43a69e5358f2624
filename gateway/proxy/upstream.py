"""The proxy -> engine transport: plain HTTP/1.1 with a pooled httpx client, and SSE framing.

Direct HTTP (not NATS request/reply): the engines (vLLM, llama.cpp) speak
OpenAI over HTTP already, so the proxy forwards bytes without re-framing,
streams need no reply-subject protocol, cancellation is closing the
connection (vLLM aborts the request when its client goes away), and keep-alive
connections from the pool cost one write and one read per request, no broker
hop. Discovery (the KV watch) stays on NATS.

`UpstreamFailed` means "this replica did not answer usefully and nothing has
been sent to the client yet": the caller may try another replica. Raised for
connect/read errors and timeouts, for 5xx answers, and for a stream that
ends or breaks before its first event.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx

HEADERS = {"content-type": "application/json", "accept-encoding": "identity"}


class UpstreamFailed(Exception):
    pass


def new_client(*, max_connections: int = 1024, connect_s: float = 2.0, read_s: float = 600.0) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections,
                          keepalive_expiry=30)
    timeout = httpx.Timeout(connect=connect_s, read=read_s, write=30.0, pool=30.0)
    # TCP_NODELAY: httpcore writes a request's head and body separately; with Nagle on, the body waits
    # for the ACK of the head (delayed ACK), adding milliseconds to every request.
    transport = httpx.AsyncHTTPTransport(limits=limits, http1=True, http2=False,
                                         socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)


async def post(client: httpx.AsyncClient, url: str, body: bytes, request_id: str) -> httpx.Response:
    """A complete (non-streaming) answer; 4xx are returned, 5xx and transport errors raise UpstreamFailed."""
    try:
        response = await client.post(url, content=body, headers={**HEADERS, "x-request-id": request_id})
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
    if response.status_code >= 500:
        raise UpstreamFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


async def open_stream(client: httpx.AsyncClient, url: str, body: bytes, request_id: str):
    """(response, events, first): an open streaming answer whose first SSE event has arrived.

    A non-200 answer is returned read in full with events = None (4xx: the
    engine's refusal, passed on); the caller closes `response` in any case.
    """
    request = client.build_request("POST", url, content=body, headers={**HEADERS, "x-request-id": request_id})
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
    try:
        if response.status_code != 200:
            await response.aread()
            if response.status_code >= 500:
                raise UpstreamFailed(f"HTTP {response.status_code}: {response.text[:200]}")
            return response, None, None
        events = sse_events(response.aiter_raw())
        try:
            first = await events.__anext__()
        except StopAsyncIteration:
            raise UpstreamFailed("the stream ended before its first event") from None
        except httpx.HTTPError as exc:
            raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
        return response, events, first
    except BaseException:
        await response.aclose()
        raise


async def sse_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The events of an SSE byte stream, each without its blank-line terminator."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        if b"\r\n" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        while (end := buffer.find(b"\n\n")) >= 0:
            event, buffer = buffer[:end], buffer[end + 2:]
            if event:
                yield event
    if buffer.strip():
        yield buffer.strip()


def data_of(event: bytes) -> bytes | None:
    """The `data:` payload of one SSE event (lines joined), None if it has none."""
    parts = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(parts) if parts else None
