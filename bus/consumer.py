"""Durable pull consumers: at-least-once processing with dead letters.

Ack semantics (the contract every handler relies on):
- A message is acked only after its handler returned, i.e. after its effect
  is stored. Handlers must therefore be idempotent (projections store their
  tracking position with their effect; domain handlers publish with
  deterministic `Nats-Msg-Id`s and expectations).
- A handler exception naks the message with the next backoff delay; JetStream
  redelivers it up to `max_deliver` times.
- A message that cannot be decoded (malformed bytes, unknown type, invalid
  payload) or raises `Permanent` is dead-lettered at once; one that fails on
  its last delivery is dead-lettered then. Dead-lettering publishes a
  `DeadLettered` envelope (original bytes and headers verbatim, the error, the
  delivery count) to `dlq.<stream>.<consumer>`, waits for that PubAck, and only then terminates the original
  (`+TERM`). If the dead-letter publish fails, the original is naked instead —
  nothing is acked that was not handled or stored elsewhere.
- Redeliveries can arrive after newer messages were handled (up to
  `max_ack_pending` are in flight). A handler that skips by "highest sequence
  applied" must therefore run with `max_ack_pending=1`; projections are better
  served by `bus.read.follow` from their stored position (strict order, no
  durable consumer), as the eventsourcing library's projection runner does.
- `stop()` is graceful: the message being handled finishes and is acked;
  messages fetched but not started are naked (redelivered at once), never acked.
- `concurrent=True` starts the messages of one fetch together, in stream order,
  and fetches the next batch while they run; once that one is started too, it
  waits for the first to be done before fetching again (at most two batches in
  hand; a batch starts only after the previous one started). With a handler
  that serialises per key in arrival order (`CommandHandler`'s per-aggregate
  FIFO lock, taken before the first await), order per aggregate still holds;
  `stop()` then lets the batches in hand finish.

nats-py is used directly rather than FastStream: these consumers need the
delivery count, per-attempt backoff, TERM after a stored dead letter and a
nak-on-shutdown, which FastStream's subscriber hides behind its own ack
policy. FastStream fits the thin command subscribers of later issues, where
its typed routing helps and these semantics are not at stake.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from datetime import datetime, timezone
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from bus import subjects
from bus.publish import OutMsg, Publisher
from schemas import PLATFORM_TENANT, Envelope, derived_id, encode
from schemas.system import DeadLettered

log = logging.getLogger("tessera.consumer")


class Permanent(Exception):
    """Raised by a handler for input that will never succeed: dead-letter now, do not retry."""


@dataclass(frozen=True)
class ConsumerSpec:
    stream: str
    durable: str
    filter_subjects: tuple[str, ...] = ()
    max_deliver: int = 5
    backoff: tuple[float, ...] = (0.2, 1.0, 5.0, 15.0)
    ack_wait: float = 30.0
    batch: int = 100
    max_ack_pending: int = 10_000
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL

    def config(self) -> ConsumerConfig:
        many = len(self.filter_subjects) > 1
        return ConsumerConfig(
            durable_name=self.durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            max_ack_pending=self.max_ack_pending,
            deliver_policy=self.deliver_policy,
            filter_subject=None if many or not self.filter_subjects else self.filter_subjects[0],
            filter_subjects=list(self.filter_subjects) if many else None,
        )


@dataclass(frozen=True)
class Delivery:
    subject: str
    seq: int
    data: bytes
    headers: dict[str, str]
    delivered: int
    value: Any = None  # what `decode` made of `data`


Handler = Callable[[Delivery], Awaitable[None]]
Decoder = Callable[[bytes], Any]


@dataclass
class Stats:
    acked: int = 0
    naked: int = 0
    dead_lettered: int = 0
    redelivered: int = 0
    errors: list[str] = field(default_factory=list)


class Consumer:
    def __init__(self, nc: Client, spec: ConsumerSpec, handler: Handler, *, decode: Decoder | None = None,
                 fetch_timeout: float = 1.0, concurrent: bool = False) -> None:
        self.nc = nc
        self.spec = spec
        self.handler = handler
        self.decode = decode
        self.fetch_timeout = fetch_timeout
        self.concurrent = concurrent
        self.publisher = Publisher(nc, stream="DLQ")
        self.stats = Stats()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._sub = None

    async def ensure(self) -> None:
        js = self.nc.jetstream()
        try:
            await js.consumer_info(self.spec.stream, self.spec.durable)
        except NotFoundError:
            await js.add_consumer(self.spec.stream, self.spec.config())

    async def run(self) -> None:
        self._stopped.clear()  # a supervisor may run the same consumer again after a crash
        await self.ensure()
        js = self.nc.jetstream()
        self._sub = await js.pull_subscribe_bind(
            durable=self.spec.durable, stream=self.spec.stream, pending_msgs_limit=self.spec.batch * 4
        )
        handling: asyncio.Future | None = None  # concurrent: the batch before the one in hand
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await self._sub.fetch(self.spec.batch, timeout=self.fetch_timeout)
                except (NatsTimeout, asyncio.TimeoutError):
                    continue
                if self.concurrent:  # started now (in stream order, after the previous batch's), awaited next round
                    previous, handling = handling, asyncio.ensure_future(self._all(msgs))
                    if previous is not None:
                        await previous
                    continue
                for index, msg in enumerate(msgs):
                    if self._stopping.is_set():
                        for rest in msgs[index:]:  # fetched, never started: hand back, never ack
                            await rest.nak()
                        break
                    await self._one(msg)
        finally:
            if handling is not None:  # started: finish it (handled and acked), as the batch in hand
                await asyncio.shield(handling)
            if self.nc.is_connected:
                await self.nc.flush()  # acks and naks are fire-and-forget: make sure they left
                await self._sub.unsubscribe()  # else closing the connection waits on its inbox
            self._stopped.set()

    async def _all(self, msgs: list[Msg]) -> None:
        """A fetched batch started together, in stream order; the next fetch waits for all of it."""
        outcomes = await asyncio.gather(*(self._one(msg) for msg in msgs), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def stop(self) -> None:
        self._stopping.set()
        await self._stopped.wait()

    async def _one(self, msg: Msg) -> None:
        meta = msg.metadata
        delivered = meta.num_delivered
        if delivered > 1:
            self.stats.redelivered += 1
        try:
            value = self.decode(msg.data) if self.decode else None
        except Exception as exc:  # the decoder's errors name the field; all mean "never valid"
            await self._dead_letter(msg, f"undecodable: {exc}")
            return
        delivery = Delivery(msg.subject, meta.sequence.stream, msg.data, dict(msg.headers or {}), delivered, value)
        try:
            await self.handler(delivery)
        except Permanent as exc:
            await self._dead_letter(msg, f"rejected: {exc}")
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if delivered >= self.spec.max_deliver:
                await self._dead_letter(msg, f"failed {delivered} times, last: {reason}")
            else:
                log.warning("%s seq %s failed (delivery %s): %s", self.spec.durable, delivery.seq, delivered, reason)
                backoff = self.spec.backoff[min(delivered - 1, len(self.spec.backoff) - 1)] if self.spec.backoff else 0
                await msg.nak(delay=backoff)
                self.stats.naked += 1
        else:
            await msg.ack()
            self.stats.acked += 1

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        env = dead_letter_envelope(msg, self.spec.durable, reason)
        out = OutMsg(subject=subjects.dead_letter_subject(env.data.stream, self.spec.durable),
                     data=encode(env), msg_id=env.id)
        try:
            await self.publisher.publish(out)
        except Exception as exc:
            log.error("%s could not dead-letter seq %s (%s); will retry", self.spec.durable, env.data.stream_sequence, exc)
            await msg.nak(delay=self.spec.backoff[-1] if self.spec.backoff else 1.0)
            self.stats.naked += 1
            return
        log.error("%s dead-lettered seq %s: %s", self.spec.durable, env.data.stream_sequence, reason)
        await msg.term()
        self.stats.dead_lettered += 1
        self.stats.errors.append(reason)


def dead_letter_envelope(msg: Msg, consumer: str, reason: str) -> Envelope:
    """The original bytes and headers, verbatim, plus why: inspectable and replayable even if undecodable."""
    meta = msg.metadata
    letter = DeadLettered(
        stream=meta.stream, subject=msg.subject, stream_sequence=meta.sequence.stream,
        delivered=meta.num_delivered, error=reason[:4000], consumer=consumer,
        original_headers=dict(msg.headers or {}), original_data_b64=base64.b64encode(msg.data).decode(),
    )
    letter_id = derived_id("dlq", meta.stream, consumer, meta.sequence.stream)
    return Envelope(
        specversion="1.0", id=letter_id, source=f"/tessera/bus/{consumer}", type=DeadLettered.TYPE,
        time=datetime.now(timezone.utc), tenant=PLATFORM_TENANT, actor=f"consumer:{consumer}",
        correlationid=letter_id, aggregate="dead_letter", aggregateid=letter_id, version=1, data=letter,
    )
