"""A reactor turns events into commands once, resumes after its stored position, and rebuilds its view."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bus.eventstore import JetStreamTrackingRecorder
from bus.eventstore.config import StoreConfig
from bus.publish import OutMsg, Publisher
from bus.reactor import ReactorRunner
from bus.read import replay
from schemas import Command, Envelope, Event, decode, encode, event_id

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class ParcelShipped(Event):
    TYPE = "tessera.testing.parcel_shipped.v1"
    parcel: str
    weight: int


class BillShipping(Command):
    TYPE = "tessera.testing.bill_shipping.v1"
    parcel: str
    running_weight: int


class Biller:
    """Bills every parcel with the running total of weight shipped so far (needs the whole history)."""

    name = "biller"

    def __init__(self) -> None:
        self.weight = 0

    def apply(self, event: Envelope) -> None:
        self.weight += event.data.weight

    def react(self, event: Envelope):
        return [(event.tenant, BillShipping(parcel=event.data.parcel, running_weight=self.weight))]


async def ship(nc, first: int, count: int) -> None:
    msgs = []
    for n in range(first, first + count):
        cause = f"ship-{n}"
        env = Envelope(specversion="1.0", id=event_id(cause, 0), source="/tests", type=ParcelShipped.TYPE, time=T0,
                       tenant="acme", actor="test", correlationid=cause, causationid=cause,
                       data=ParcelShipped(parcel=f"p{n}", weight=n), aggregate="parcel", aggregateid=f"p{n}",
                       version=1)
        msgs.append(OutMsg(f"evt.acme.parcel.p{n}.parcel_shipped", encode(env), env.id))
    await Publisher(nc).publish_many(msgs)


async def bills(nc) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    await replay(nc, "CMD", lambda m: out.append((decode(m.data).data.parcel, decode(m.data).data.running_weight)))
    return out


@pytest.fixture
def tracking(nats_server):
    recorder = JetStreamTrackingRecorder.connect(nats_server.url, StoreConfig())
    yield recorder
    recorder.close()


async def test_each_event_is_answered_once_and_a_restart_resumes_after_the_position(nc, tracking):
    await ship(nc, 1, 5)
    first = ReactorRunner(nc, Biller(), tracking, subject="evt.acme.parcel.>")
    await first.run(once=True)
    assert await bills(nc) == [(f"p{n}", sum(range(1, n + 1))) for n in range(1, 6)]

    await ship(nc, 6, 3)
    second = ReactorRunner(nc, Biller(), tracking, subject="evt.acme.parcel.>")
    await second.run(once=True)
    # the restarted runner rebuilt the running weight from all 8 events but billed only the 3 new ones
    assert second.sent == 3
    assert await bills(nc) == [(f"p{n}", sum(range(1, n + 1))) for n in range(1, 9)]


async def test_reactions_carry_derived_ids_and_the_causing_event(nc, tracking):
    await ship(nc, 1, 2)
    await ReactorRunner(nc, Biller(), tracking, subject="evt.acme.parcel.>").run(once=True)
    commands: list[Envelope] = []
    await replay(nc, "CMD", lambda m: commands.append(decode(m.data)))
    assert [c.causationid for c in commands] == [event_id("ship-1", 0), event_id("ship-2", 0)]
    assert [c.correlationid for c in commands] == ["ship-1", "ship-2"]
    assert all(c.actor == "reactor:biller" for c in commands)
