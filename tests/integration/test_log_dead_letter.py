"""T8 and S5: messages that can never be handled are dead-lettered, and nothing else is disturbed.

T8: one event whose handler always fails is delivered `max_deliver` times,
then published to `dlq.EVT.<consumer>` as a DeadLettered envelope carrying the
error, the delivery count and the original bytes and headers verbatim; every
other event is handled exactly once, and events after the poison one are
handled while it is still being retried (the consumer never stalls on it).

S5: bytes published straight to the bus — malformed JSON, an unknown type, a
known type with an invalid payload — fail `schemas.decode` and are
dead-lettered on their first delivery with a reason naming the field; the valid
events around them are handled.
"""

from __future__ import annotations

import asyncio
import base64
import time

import orjson

from bus.consumer import Consumer, ConsumerSpec
from bus.publish import OutMsg, Publisher
from schemas import DeadLettered, decode
from tests.integration.conftest import Ledger, LogProbeRecorded, probe_event, stored_msgs


async def run_until(consumer: Consumer, done, timeout: float = 30.0) -> None:
    await consumer.ensure()
    task = asyncio.create_task(consumer.run())
    try:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"consumer stalled: {consumer.stats}"
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
        await task


async def dead_letters(nc, durable: str) -> list[DeadLettered]:
    return [decode(m.data).data for m in await stored_msgs(nc, "DLQ", f"dlq.EVT.{durable}")]


async def test_a_message_that_always_fails_is_dead_lettered_after_max_deliver_and_the_rest_flow(nc):
    publisher = Publisher(nc)
    events = [probe_event("t", "dl", f"a{i % 10}", writer=0, n=i, version=1 + i // 10)[0] for i in range(100)]
    poison = events[20]
    for m in events:
        await publisher.publish(m)
    handled: list[tuple[float, str]] = []
    attempts: list[float] = []

    async def handle(delivery) -> None:
        msg_id = delivery.headers["Nats-Msg-Id"]
        if msg_id == poison.msg_id:
            attempts.append(time.monotonic())
            raise RuntimeError(f"poisoned widget {delivery.seq}")
        handled.append((time.monotonic(), msg_id))

    spec = ConsumerSpec(stream="EVT", durable="dl", filter_subjects=("evt.t.dl.>",), max_deliver=4,
                        backoff=(0.1, 0.2, 0.3), batch=10)
    consumer = Consumer(nc, spec, handle)
    await run_until(consumer, lambda: consumer.stats.dead_lettered == 1 and len(handled) == 99)

    assert len(attempts) == spec.max_deliver
    # never stalled: everything after the poison message was handled before its last attempt
    after = {m.msg_id for m in events[21:]}
    assert max(t for t, i in handled if i in after) < attempts[-1]
    assert [i for _, i in handled] == [m.msg_id for m in events if m is not poison]  # once each, in order

    (letter,) = await dead_letters(nc, "dl")
    # the ledger: every event in the stream is accounted for exactly once, handled or dead-lettered
    ledger = Ledger()
    for m in await stored_msgs(nc, subject="evt.t.dl.>"):
        ledger.attempt(m.msg_id)
        ledger.ack(m.msg_id)
    ledger.check([i for _, i in handled] + [letter.original_headers["Nats-Msg-Id"]])
    assert letter.delivered == spec.max_deliver
    assert f"failed {spec.max_deliver} times" in letter.error and "RuntimeError: poisoned widget" in letter.error
    assert base64.b64decode(letter.original_data_b64) == poison.data
    assert letter.original_headers["Nats-Msg-Id"] == poison.msg_id and letter.subject == poison.subject
    assert decode(base64.b64decode(letter.original_data_b64)).id == poison.msg_id
    info = await nc.jetstream().consumer_info("EVT", "dl")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_malformed_messages_on_the_bus_are_dead_lettered_at_once_naming_the_field(nc):
    good = [probe_event("t", "s5", f"a{i}", writer=0, n=i, version=1) for i in range(6)]
    valid_body = orjson.loads(good[0][0].data)
    bad = {
        "malformed": (b"\x00{not json", "$"),
        "unknown-type": (orjson.dumps({**valid_body, "type": "tessera.testing.no_such_event.v1"}), "type"),
        "invalid-payload": (orjson.dumps({**valid_body, "data": {"writer": "seven", "n": 1}}), "data.writer"),
        "missing-field": (orjson.dumps({**valid_body, "data": {"writer": 1}}), "data.n"),
    }
    publisher = Publisher(nc)
    sent: list[OutMsg] = []
    for index, (name, (raw, _)) in enumerate(bad.items()):
        sent.append(good[index][0])
        sent.append(OutMsg(subject=f"evt.t.s5.bad{index}.log_probe_recorded", data=raw, msg_id=f"bad-{name}"))
    sent += [g for g, _ in good[len(bad):]]
    for m in sent:
        await publisher.publish(m)

    handled: list[str] = []

    async def handle(delivery) -> None:
        assert isinstance(delivery.value.data, LogProbeRecorded)
        handled.append(delivery.value.id)

    spec = ConsumerSpec(stream="EVT", durable="s5", filter_subjects=("evt.t.s5.>",), max_deliver=5)
    consumer = Consumer(nc, spec, handle, decode=decode)
    await run_until(consumer, lambda: consumer.stats.dead_lettered == len(bad) and len(handled) == len(good))

    assert handled == [env.id for _, env in good]
    assert consumer.stats.naked == 0 and consumer.stats.redelivered == 0
    letters = {letter.original_headers["Nats-Msg-Id"]: letter for letter in await dead_letters(nc, "s5")}
    ledger = Ledger()
    for m in await stored_msgs(nc, subject="evt.t.s5.>"):
        ledger.attempt(m.msg_id)
        ledger.ack(m.msg_id)
    ledger.check([out.msg_id for out, env in good if env.id in handled] + list(letters))
    assert set(letters) == {f"bad-{name}" for name in bad}
    for name, (raw, field) in bad.items():
        letter = letters[f"bad-{name}"]
        assert letter.delivered == 1, "undecodable input is never retried"
        assert letter.error.startswith(f"undecodable: {field}:"), letter.error
        assert base64.b64decode(letter.original_data_b64) == raw
    # nothing else disturbed: the stream holds every message, in order, once
    assert [m.msg_id for m in await stored_msgs(nc, subject="evt.t.s5.>")] == [m.msg_id for m in sent]
