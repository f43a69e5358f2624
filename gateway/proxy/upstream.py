"""The proxy -> engine transport: plain HTTP/1.1 over the pooled client of http1.py, and SSE framing.

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

from collections.abc import AsyncIterator

from gateway.proxy.http1 import Client, Response

HEADERS = b"content-type: application/json\r\naccept-encoding: identity\r\n"


class UpstreamFailed(Exception):
    pass


def new_client(*, max_connections: int = 1024, connect_s: float = 2.0, read_s: float = 600.0) -> Client:
    return Client(max_connections=max_connections, connect_s=connect_s, read_s=read_s)


async def _send(client: Client, url: str, body: bytes, request_id: str) -> Response:
    try:
        return await client.request("POST", url, body, HEADERS + b"x-request-id: %s\r\n" % request_id.encode())
    except OSError as exc:
        raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc


async def post(client: Client, url: str, body: bytes, request_id: str) -> Response:
    """A complete (non-streaming) answer; 4xx are returned, 5xx and transport errors raise UpstreamFailed.

    Cancelled while waiting: the connection is closed (the engine sees its client go).
    """
    response = await _send(client, url, body, request_id)
    try:
        await response.aread()
    except OSError as exc:
        raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        await response.aclose()
    if response.status_code >= 500:
        raise UpstreamFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    return response


async def open_stream(client: Client, url: str, body: bytes, request_id: str):
    """(response, events, first): an open streaming answer whose first SSE event has arrived.

    A non-200 answer is returned read in full with events = None (4xx: the
    engine's refusal, passed on); the caller closes `response` in any case.
    """
    response = await _send(client, url, body, request_id)
    try:
        if response.status_code != 200:
            try:
                await response.aread()
            except OSError as exc:
                raise UpstreamFailed(f"{type(exc).__name__}: {exc}") from exc
            if response.status_code >= 500:
                raise UpstreamFailed(f"HTTP {response.status_code}: {response.text[:200]}")
            return response, None, None
        events = sse_events(response.aiter_raw())
        try:
            first = await events.__anext__()
        except StopAsyncIteration:
            raise UpstreamFailed("the stream ended before its first event") from None
        except OSError as exc:
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
