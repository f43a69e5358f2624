"""Server-sent events: frames, heartbeats, and a clean end.

`stream(source, heartbeat, stop)` turns an async iterator of
`(event, data, id)` into `text/event-stream` bytes: one frame per item
(`id:` = the stream sequence, so a client can tell where it was), a comment
line `: heartbeat` after `heartbeat` seconds without one (keeps proxies from
closing an idle stream), and a final `event: end` frame when the source ends.
It stops when `stop` is set (the gateway shuts down) and when the client
disconnects (Starlette cancels the response; the source's generator is
closed, which ends its NATS subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.responses import StreamingResponse

MEDIA_TYPE = "text/event-stream"
Item = tuple[str, Any, int | None]


def frame(event: str, data: Any, id: int | None = None) -> bytes:
    body = orjson.dumps(data, default=str)  # one line: orjson never emits raw newlines
    head = f"id: {id}\n" if id is not None else ""
    return f"{head}event: {event}\n".encode() + b"data: " + body + b"\n\n"


async def stream(source: AsyncIterator[Item], heartbeat: float, stop: asyncio.Event | None) -> AsyncIterator[bytes]:
    iterator = source.__aiter__()
    stopping = asyncio.ensure_future((stop or asyncio.Event()).wait())
    pending: asyncio.Future | None = None
    try:
        yield b": stream open\n\n"
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending, stopping}, timeout=heartbeat,
                                         return_when=asyncio.FIRST_COMPLETED)
            if pending in done:
                try:
                    event, data, id = pending.result()
                except StopAsyncIteration:
                    pending = None
                    break
                pending = None
                yield frame(event, data, id)
            elif stopping in done:
                break
            else:
                yield b": heartbeat\n\n"
        yield frame("end", {"reason": "complete" if not stopping.done() else "gateway stopping"})
    finally:
        stopping.cancel()
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        with contextlib.suppress(BaseException):
            await iterator.aclose()  # type: ignore[attr-defined]


def response(source: AsyncIterator[Item], heartbeat: float, stop: asyncio.Event | None) -> StreamingResponse:
    return StreamingResponse(stream(source, heartbeat, stop), media_type=MEDIA_TYPE,
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
