"""Reading the log: one aggregate, a replay, and a live follow.

- `load_aggregate` reads one aggregate's events by subject filter through
  Direct Get (bus.direct): cost proportional to the aggregate, not the stream.
- `replay` pushes every message of a stream (optionally filtered) from a
  sequence or a time through a handler and stops at the end that existed when
  it started; it returns the last sequence handled, so a caller can resume.
- `follow` does the same and then keeps going with new messages until cancelled.

Both use an ordered push consumer (ephemeral, flow-controlled, no acks): the
server re-creates it on a gap, so the handler sees each sequence once, in order.
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


async def _messages(
    nc: Client, stream: str, subject: str, start_seq: int | None, start_time: datetime | None, live: bool
) -> AsyncIterator[StoredMsg]:
    js = nc.jetstream()
    info = await js.stream_info(stream)
    if not live and info.state.messages == 0:
        return
    end = info.state.last_seq
    sub = await js.subscribe(
        subject, stream=stream, ordered_consumer=True, config=_config(start_seq, start_time),
        pending_msgs_limit=1_000_000, pending_bytes_limit=1 << 30,
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=None if live else 2.0)
            except asyncio.TimeoutError:
                if live:
                    continue
                # nothing matching is left before `end` (filtered replays may end early)
                if (await sub.consumer_info()).num_pending == 0:
                    return
                continue
            meta = msg.metadata
            yield StoredMsg(subject=msg.subject, seq=meta.sequence.stream, data=msg.data, headers=dict(msg.headers or {}))
            if not live and (meta.sequence.stream >= end or meta.num_pending == 0):
                return
    finally:
        await sub.unsubscribe()


async def replay(
    nc: Client, stream: str, handler: Handler, *, subject: str = ">", start_seq: int | None = None,
    start_time: datetime | None = None,
) -> int:
    """Handle every message up to the stream's end at call time; returns the last sequence handled (0 if none)."""
    last = 0
    async for stored in _messages(nc, stream, subject, start_seq, start_time, live=False):
        result = handler(stored)
        if asyncio.iscoroutine(result):
            await result
        last = stored.seq
    return last


def follow(
    nc: Client, stream: str, *, subject: str = ">", start_seq: int | None = None, start_time: datetime | None = None
) -> AsyncIterator[StoredMsg]:
    """Every message from the start point on, then new ones as they arrive; stop by breaking out."""
    return _messages(nc, stream, subject, start_seq, start_time, live=True)
