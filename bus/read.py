"""Reading the log: one aggregate, a replay, and a live follow.

- `load_aggregate` reads one aggregate's events by subject filter through
  Direct Get (bus.direct): cost proportional to the aggregate, not the stream.
- `replay` pushes every message of a stream (optionally filtered) from a
  sequence or a time through a handler and stops at the end that existed when
  it started; it returns the last sequence handled, so a caller can resume.
- `follow` does the same and then keeps going with new messages until cancelled.

Both use an ordered push consumer (ephemeral, flow-controlled, no acks): the
client re-creates it on a gap, so the handler sees each sequence once, in order.
Messages are taken in the subscription callback (not `next_msg`, which costs a
task and a timer per message) and the stream sequence is read off the ack
subject directly: replay runs at the speed of the wire, not of the client's
per-message bookkeeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy

from bus import direct, subjects
from bus.direct import StoredMsg

Handler = Callable[[StoredMsg], Awaitable[None] | None]


async def load_aggregate(nc: Client, tenant: str, aggregate: str, aggregate_id: str) -> list[StoredMsg]:
    return await direct.read_subject(nc, "EVT", subjects.aggregate_subjects(tenant, aggregate, aggregate_id))


def _config(start_seq: int | None, start_time: datetime | None) -> ConsumerConfig:
    if start_time is not None:
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start_time.isoformat())
    if start_seq and start_seq > 1:
        return ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start_seq)
    return ConsumerConfig(deliver_policy=DeliverPolicy.ALL)


def _position(reply: str) -> tuple[int, int]:
    """(stream sequence, pending) from a JetStream ack subject, without nats-py's Metadata objects.

    v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
    v2: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>.<token>
    """
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[8])
    return int(tokens[7]), int(tokens[10])


async def _subscribe(js, stream: str, subject: str | None, start_seq, start_time, cb):
    return await js.subscribe(
        subject or ">", stream=stream, ordered_consumer=True, config=_config(start_seq, start_time), cb=cb,
        pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30,
    )


async def replay(
    nc: Client, stream: str, handler: Handler, *, subject: str | None = None, start_seq: int | None = None,
    start_time: datetime | None = None,
) -> int:
    """Handle every message up to the stream's end at call time; returns the last sequence handled (0 if none).

    Messages are handled in the subscription's callback, in stream order, one at a
    time (an async handler is awaited before the next message); a handler error
    stops the replay and is raised here.
    """
    js = nc.jetstream()
    info = await js.stream_info(stream)
    if info.state.messages == 0 or (start_seq or 0) > info.state.last_seq:
        return 0
    end = info.state.last_seq
    done = asyncio.Event()
    last = 0
    failure: list[BaseException] = []

    async def on_msg(msg) -> None:
        nonlocal last
        if done.is_set():
            return
        seq, pending = _position(msg.reply)
        try:
            result = handler(StoredMsg(msg.subject, seq, msg.data, msg.headers or {}))
            if asyncio.iscoroutine(result):
                await result
        except BaseException as exc:  # surfaced to the caller, not swallowed by the callback task
            failure.append(exc)
            done.set()
            return
        last = seq
        if seq >= end or pending == 0:
            done.set()

    sub = await _subscribe(js, stream, subject, start_seq, start_time, on_msg)
    try:
        while not done.is_set():
            try:
                await asyncio.wait_for(done.wait(), 2.0)
            except asyncio.TimeoutError:
                # a filtered replay may have nothing left before `end`: ask the server, and stop only
                # if everything it delivered was handled (messages may arrive during the request)
                if sub.pending_msgs:
                    continue
                try:
                    info = await sub.consumer_info()
                except asyncio.TimeoutError:  # a busy client: ask again next round
                    continue
                if info.num_pending == 0 and sub.pending_msgs == 0 and info.delivered.stream_seq <= last:
                    break
    finally:
        await sub.unsubscribe()
    if failure:
        raise failure[0]
    return last


async def _live(
    nc: Client, stream: str, subject: str | None, start_seq: int | None, start_time: datetime | None
) -> AsyncIterator[StoredMsg]:
    queue: asyncio.Queue[StoredMsg] = asyncio.Queue()

    async def on_msg(msg) -> None:
        seq, pending = _position(msg.reply)
        queue.put_nowait(StoredMsg(msg.subject, seq, msg.data, msg.headers or {}, pending))

    sub = await _subscribe(nc.jetstream(), stream, subject, start_seq, start_time, on_msg)
    try:
        while True:
            yield await queue.get()
    finally:
        await sub.unsubscribe()


def follow(
    nc: Client, stream: str, *, subject: str | None = None, start_seq: int | None = None,
    start_time: datetime | None = None,
) -> AsyncIterator[StoredMsg]:
    """Every message from the start point on, then new ones as they arrive; stop by breaking out."""
    return _live(nc, stream, subject, start_seq, start_time)
