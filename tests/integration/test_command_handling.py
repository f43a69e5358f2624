"""Commands end to end on a real nats-server: CMD -> consumer -> decide -> EVT, exactly once per command."""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import pytest

from bus.aggregates import AggregateStore
from bus.commands import command_consumer, send
from bus.connection import connect
from bus.eventstore import JetStreamApplicationRecorder
from bus.eventstore.config import StoreConfig
from bus.handler import CommandHandler, Decider
from bus.publish import Publisher
from bus.read import load_aggregate, replay
from bus.settings import Settings
from bus.streams import ensure_streams
from domains.errors import DomainError
from schemas import Command, Envelope, Event, decode

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class AddToTally(Command):
    TYPE = "tessera.testing.add_to_tally.v1"
    tally: str
    amount: int


class TallyIncreased(Event):
    TYPE = "tessera.testing.tally_increased.v1"
    amount: int
    total: int


class TallyCapped(Event):
    TYPE = "tessera.testing.tally_capped.v1"
    total: int


@dataclass(frozen=True)
class Tally:
    total: int = 0
    capped: bool = False


@functools.singledispatch
def evolve(state: Tally, event: Event) -> Tally:
    raise TypeError(event)


@evolve.register
def _(event: TallyIncreased, state: Tally) -> Tally:  # registered on the event type
    return replace(state, total=event.total)


@evolve.register
def _(event: TallyCapped, state: Tally) -> Tally:
    return replace(state, capped=True)


def evolve_tally(state: Tally, event: Event) -> Tally:
    return evolve.dispatch(type(event))(event, state)


def decide(state: Tally, command: AddToTally, *, now: datetime) -> list[Event]:
    if command.amount <= 0:
        raise DomainError("must be positive", field="amount")
    if state.capped:
        return []
    total = state.total + command.amount
    events: list[Event] = [TallyIncreased(amount=command.amount, total=total)]
    if total >= 1000:
        events.append(TallyCapped(total=total))  # two events, one decision, one atomic write
    return events


TALLY = Decider(aggregate="tally", initial=Tally(), evolve=evolve_tally, decide=decide,
                commands=(AddToTally,), aggregate_id=lambda c: c.tally)


def command(tally: str, amount: int, *, id: str) -> Envelope:
    return Envelope.for_command(AddToTally(tally=tally, amount=amount), tenant="acme", actor="alice",
                                source="/tests", time=T0, id=id)


@pytest.fixture
def handler(nats_server):
    recorder = JetStreamApplicationRecorder.connect(nats_server.url, StoreConfig())
    yield CommandHandler(AggregateStore(recorder), [TALLY], clock=lambda: T0)
    recorder.close()


async def totals(nc, tally: str) -> list[tuple[int, int]]:
    return [(decode(m.data).version, decode(m.data).data.total) for m in await load_aggregate(nc, "acme", "tally", tally)
            if decode(m.data).type == TallyIncreased.TYPE]


async def test_a_decision_is_appended_with_derived_ids_and_following_versions(nc, handler):
    first = await handler.handle(command("t1", 5, id="c1"))
    second = await handler.handle(command("t1", 995, id="c2"))

    assert [e.version for e in first + second] == [1, 2, 3]
    assert [e.causationid for e in second] == ["c2", "c2"] and second[1].type == TallyCapped.TYPE
    assert len({e.id for e in first + second}) == 3
    assert await totals(nc, "t1") == [(1, 5), (2, 1000)]


async def test_a_command_handled_again_applies_once(nc, handler):
    await handler.handle(command("t2", 7, id="once"))
    assert await handler.handle(command("t2", 7, id="once")) == []
    assert await totals(nc, "t2") == [(1, 7)]


async def test_concurrent_commands_on_one_aggregate_all_apply_through_conflicts(nc, handler):
    await asyncio.gather(*(handler.handle(command("hot", 1, id=f"hot-{i}")) for i in range(20)))
    assert await totals(nc, "hot") == [(v, v) for v in range(1, 21)]


async def test_a_command_redelivered_after_the_duplicate_window_still_applies_once(tmp_path, nats_server, handler):
    """T9: JetStream forgets the Nats-Msg-Id after its window; the aggregate does not forget the command."""
    settings = Settings(duplicate_window=1.0)
    nc = await connect(nats_server.url, settings)
    try:
        await ensure_streams(nc.jetstream(), settings)
        publisher = Publisher(nc, stream="CMD")
        consumer = command_consumer(nc, handler, durable="tally", backoff=(0.05,))
        task = asyncio.create_task(consumer.run())
        original = command("t9", 3, id="t9-cmd")
        first = await send(publisher, original)
        await asyncio.sleep(1.5)  # past the duplicate window
        again = await send(publisher, original)
        assert not again.duplicate and again.seq != first.seq  # JetStream stored the copy

        deadline = asyncio.get_running_loop().time() + 10
        while consumer.stats.acked < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await consumer.stop()
        await task
        assert consumer.stats.acked == 2 and consumer.stats.dead_lettered == 0
        assert await totals(nc, "t9") == [(1, 3)]
    finally:
        await nc.close()


async def test_an_invalid_command_is_dead_lettered_with_the_field_and_nothing_is_written(nc, handler):
    consumer = command_consumer(nc, handler, durable="tally-bad")
    task = asyncio.create_task(consumer.run())
    await send(Publisher(nc, stream="CMD"), command("t3", -1, id="bad"))
    deadline = asyncio.get_running_loop().time() + 10
    while consumer.stats.dead_lettered < 1 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    await consumer.stop()
    await task

    letters: list[Envelope] = []
    await replay(nc, "DLQ", lambda m: letters.append(decode(m.data)))
    assert [letter.data.error for letter in letters] == ["rejected: invalid at amount: must be positive"]
    assert await load_aggregate(nc, "acme", "tally", "t3") == []


async def test_two_handler_processes_racing_on_one_aggregate_lose_nothing(nc, nats_server, handler):
    other_recorder = JetStreamApplicationRecorder.connect(nats_server.url, StoreConfig())
    other = CommandHandler(AggregateStore(other_recorder), [TALLY], clock=lambda: T0)
    try:
        await asyncio.gather(*(h.handle(command("race", 1, id=f"race-{i}"))
                               for i in range(30) for h in [(handler, other)[i % 2]]))
    finally:
        other_recorder.close()
    assert await totals(nc, "race") == [(v, v) for v in range(1, 31)]
