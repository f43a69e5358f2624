"""Usage records of served requests, published to USAGE off the request path.

`record(fields)` queues one `InferenceRequestRecorded` (schemas/usage.py), given
as the record itself or as its fields (`Meter.fields()`: the hot path, encoded
straight to the envelope's bytes by `fields_msg`, the exact bytes
`encode(usage_envelope(record))` gives, without pydantic's validation and
dump on every request; tests/unit/test_proxy_usage_bytes.py holds them equal,
and every consumer still decodes strictly); a worker publishes what is queued in pipelined batches (`Publisher.publish_many`)
as envelopes on `usage.<tenant>.inference`, `Nats-Msg-Id` = request id. A
batch that fails (no PubAck, a lost connection) is sent again with the same
ids until it is acknowledged: JetStream's dedupe makes the resend harmless, so
each request is recorded once. `stop()` drains the queue (bounded by
`drain_s`). Records still queued when the process is killed are lost: the
response never waits for the bus (P5: the publish is not on the latency
path); `pending` exposes the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson

from bus import subjects
from bus.publish import OutMsg, Publisher
from schemas import Envelope, encode
from schemas.usage import InferenceRequestRecorded

log = logging.getLogger("tessera.proxy.usage")
SOURCE = "inference"
SOURCE_URI = "/tessera/proxy"
TYPE = InferenceRequestRecorded.TYPE


def usage_envelope(record: InferenceRequestRecorded) -> Envelope:
    return Envelope(specversion="1.0", id=record.request_id, source=SOURCE_URI, type=record.TYPE,
                    time=record.end, tenant=record.tenant, actor=f"apikey:{record.tenant}/{record.key_id}",
                    correlationid=record.request_id, data=record, aggregate="usage",
                    aggregateid=record.request_id, version=1)


def usage_msg(record: InferenceRequestRecorded) -> OutMsg:
    return OutMsg(subject=subjects.usage_subject(record.tenant, SOURCE), data=encode(usage_envelope(record)),
                  msg_id=record.request_id)


def fields_msg(data: dict) -> OutMsg:
    """The OutMsg of the record with these fields (Meter.fields()), encoded as `encode(usage_envelope(...))`."""
    rid, tenant = data["request_id"], data["tenant"]
    body = {"specversion": "1.0", "id": rid, "source": SOURCE_URI, "type": TYPE, "time": data["end"],
            "datacontenttype": "application/json", "tenant": tenant, "actor": f"apikey:{tenant}/{data['key_id']}",
            "correlationid": rid, "aggregate": "usage", "aggregateid": rid, "version": 1, "data": data}
    return OutMsg(subject=subjects.usage_subject(tenant, SOURCE), data=orjson.dumps(body, option=orjson.OPT_UTC_Z),
                  msg_id=rid)


class UsageSink:
    def __init__(self, nc, *, timeout: float = 5.0, batch: int = 1000, drain_s: float = 10.0) -> None:
        self.publisher = Publisher(nc, stream="USAGE", timeout=timeout)
        self.batch = batch
        self.drain_s = drain_s
        self.queue: asyncio.Queue[OutMsg] = asyncio.Queue()
        self.published = 0
        self._task: asyncio.Task | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def pending(self) -> int:
        return self.queue.qsize()

    def record(self, record: InferenceRequestRecorded | dict) -> None:
        self._idle.clear()
        self.queue.put_nowait(fields_msg(record) if isinstance(record, dict) else usage_msg(record))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="proxy-usage")

    async def flushed(self) -> None:
        """Wait until every record queued so far is acknowledged."""
        while self.queue.qsize() or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    async def stop(self) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.flushed(), self.drain_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.queue.qsize():
            log.error("%d usage records not published at shutdown", self.queue.qsize())

    async def _run(self) -> None:
        while True:
            msgs = [await self.queue.get()]
            while len(msgs) < self.batch and not self.queue.empty():
                msgs.append(self.queue.get_nowait())
            delay = 0.05
            while True:
                try:
                    await self.publisher.publish_many(msgs)
                    break
                except Exception as exc:  # noqa: BLE001 - unacknowledged: same ids again (dedupe absorbs copies)
                    log.warning("publishing %d usage records failed (%s: %s); retrying", len(msgs),
                                type(exc).__name__, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            self.published += len(msgs)
            if self.queue.empty():
                self._idle.set()
