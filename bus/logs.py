"""Job logs on the LOG stream: writing lines, reading a job's lines back (and following new ones).

Subject `log.<tenant>.<job_id>.<task>`, body = JSON of `schemas.logs.LogLine`.

Writing: `publish_line` waits for the PubAck (only a PubAck is success);
`publish_lines` pipelines many (each still acknowledged). A `msg_id`
(`line_id(job, attempt, stream, n)` from the executor's line counter) makes a
retried publish a JetStream duplicate instead of a second copy of the line.

Reading: `read_logs` yields `(stream sequence, LogLine)` for every task of the
job in stream order: first what is stored (Direct Get in pages, no consumer),
then, with `follow`, new lines from an ordered push consumer started right
after the last line read, so nothing falls between the two. It ends when
`stop` is set or the caller stops iterating. A stored body that does not parse
is skipped (the LOG stream is not a contract anyone can break for a reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from bus import direct, subjects
from bus.direct import StoredMsg
from bus.errors import PublishError
from bus.publish import OutMsg, Publisher
from schemas import derived_id
from schemas.logs import LogLine

log = logging.getLogger("tessera.logs")
PAGE = 1000


def line_id(job_id: str, attempt: int, stream: str, n: int) -> str:
    return derived_id("log", job_id, attempt, stream, n)


def _out(tenant: str, task: str, line: LogLine, msg_id: str | None) -> OutMsg:
    subject = subjects.log_subject(tenant, line.job_id, task)
    return OutMsg(subject, line.model_dump_json().encode(), msg_id or "")


async def publish_line(js: JetStreamContext, tenant: str, task: str, line: LogLine, *,
                       msg_id: str | None = None) -> None:
    out = _out(tenant, task, line, msg_id)
    ack = await js.publish(out.subject, out.data, stream="LOG",
                           headers={"Nats-Msg-Id": msg_id} if msg_id else None)
    if ack.stream != "LOG":
        raise PublishError(f"log line stored on {ack.stream}, not LOG")


async def publish_lines(nc: Client, tenant: str, task: str, lines: Sequence[tuple[LogLine, str]]) -> None:
    """(line, msg id) pairs, pipelined; returns once every one is acknowledged."""
    await Publisher(nc, stream="LOG").publish_many([_out(tenant, task, line, mid) for line, mid in lines])


def _parse(stored: StoredMsg) -> LogLine | None:
    try:
        return LogLine.model_validate_json(stored.data)
    except ValidationError as exc:
        log.warning("skipping LOG seq %s: %s", stored.seq, exc.errors()[0]["msg"])
        return None


async def read_logs(nc: Client, tenant: str, job_id: str, *, follow: bool = False,
                    stop: asyncio.Event | None = None) -> AsyncIterator[tuple[int, LogLine]]:
    subject = f"{subjects.log_subject(tenant, job_id, 'main').rsplit('.', 1)[0]}.*"
    last = 0
    while stop is None or not stop.is_set():
        page = await direct.read_subject(nc, "LOG", subject, start_seq=last + 1, limit=PAGE)
        for stored in page:
            last = stored.seq
            line = _parse(stored)
            if line is not None:
                yield stored.seq, line
        if len(page) < PAGE:
            break
    if not follow:
        return
    async for item in _follow(nc, subject, last + 1, stop or asyncio.Event()):
        yield item


async def _follow(nc: Client, subject: str, start: int, stop: asyncio.Event) -> AsyncIterator[tuple[int, LogLine]]:
    queue: asyncio.Queue[StoredMsg] = asyncio.Queue()

    async def on_msg(msg) -> None:
        queue.put_nowait(StoredMsg(msg.subject, msg.metadata.sequence.stream, msg.data))

    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
    sub = await nc.jetstream().subscribe(subject, stream="LOG", ordered_consumer=True, config=config, cb=on_msg)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            got = asyncio.ensure_future(queue.get())
            await asyncio.wait({got, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not got.done():
                got.cancel()
                break
            line = _parse(got.result())
            if line is not None:
                yield got.result().seq, line
    finally:
        stopped.cancel()
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
