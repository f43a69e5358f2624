"""Durable consumers: ack after the effect, resume where acked, stop without acking unstarted work."""

from __future__ import annotations

import asyncio

from bus.consumer import Consumer, ConsumerSpec, Delivery
from bus.publish import OutMsg, Publisher


async def publish(nc, n: int, start: int = 0) -> None:
    await Publisher(nc, stream="CMD").publish_many(
        [OutMsg("cmd.acme.testing.poke", str(i).encode(), f"poke-{i}") for i in range(start, start + n)]
    )


async def run_until(consumer: Consumer, done, timeout: float = 20.0) -> None:
    task = asyncio.create_task(consumer.run())
    deadline = asyncio.get_running_loop().time() + timeout
    while not done() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.02)
    await consumer.stop()
    await task


async def test_a_restarted_durable_consumer_resumes_after_the_last_acked_message(nc):
    await publish(nc, 100)
    spec = ConsumerSpec(stream="CMD", durable="resume", batch=10)
    seen: list[int] = []

    async def handle(d: Delivery) -> None:
        seen.append(int(d.data))

    await run_until(Consumer(nc, spec, handle), lambda: len(seen) >= 40)
    first_run = list(seen)
    await publish(nc, 20, start=100)
    await run_until(Consumer(nc, spec, handle), lambda: len(seen) >= 120)

    assert sorted(set(seen)) == list(range(120))  # nothing lost
    assert len(seen) == len(set(seen))  # nothing acked was delivered again
    assert seen[: len(first_run)] == first_run


async def test_stop_finishes_the_message_in_hand_and_never_acks_the_unstarted_rest(nc):
    await publish(nc, 50)
    spec = ConsumerSpec(stream="CMD", durable="graceful", batch=50, ack_wait=30)
    started, finished = [], []
    gate = asyncio.Event()

    async def slow(d: Delivery) -> None:
        started.append(int(d.data))
        if len(started) == 3:
            gate.set()
            await asyncio.sleep(0.3)  # stop() arrives while this one is in hand
        finished.append(int(d.data))

    consumer = Consumer(nc, spec, slow)
    task = asyncio.create_task(consumer.run())
    await gate.wait()
    await consumer.stop()
    await task

    assert finished == started == [0, 1, 2]
    info = await nc.jetstream().consumer_info("CMD", "graceful")
    assert info.ack_floor.stream_seq == 3  # only the handled three are acked

    rest: list[int] = []

    async def handle(d: Delivery) -> None:
        rest.append(int(d.data))

    # the other 47 were handed back (nak): redelivered now, not after the 30 s ack wait
    await run_until(Consumer(nc, spec, handle), lambda: len(rest) >= 47, timeout=10)
    assert rest == list(range(3, 50))


async def test_a_transient_failure_is_retried_with_backoff_and_then_succeeds(nc):
    await publish(nc, 3)
    attempts: dict[int, int] = {}

    async def flaky(d: Delivery) -> None:
        n = int(d.data)
        attempts[n] = attempts.get(n, 0) + 1
        if n == 1 and attempts[n] < 3:
            raise ConnectionError("store unavailable")

    consumer = Consumer(nc, ConsumerSpec(stream="CMD", durable="flaky", max_deliver=5, backoff=(0.05, 0.1)), flaky)
    await run_until(consumer, lambda: attempts.get(1, 0) >= 3 and len(attempts) == 3)

    assert attempts == {0: 1, 1: 3, 2: 1}
    assert consumer.stats.dead_lettered == 0 and consumer.stats.redelivered == 2
