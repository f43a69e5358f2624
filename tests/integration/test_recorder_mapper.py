"""Pydantic event envelopes through the library's EventStore on a real JetStream stream."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import EventStore, IntegrityError, MapperDeserialisationError, StoredEvent

from bus import direct
from bus.eventstore import JetStreamApplicationRecorder, StoreConfig, ensure_stream
from bus.eventstore.mapper import EnvelopeMapper
from schemas import Command, Envelope, Event
from schemas.registry import register_upcaster

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


class BuildGadget(Command):
    TYPE = "tessera.testing.build_gadget.v1"
    model: str


class GadgetBuilt(Event):
    TYPE = "tessera.testing.gadget_built.v2"
    model: str
    rotors: int


# v1 had no rotor count; every gadget of that era had four.
register_upcaster("tessera.testing.gadget_built.v1", GadgetBuilt.TYPE, lambda p: {**p, "rotors": 4})


class GadgetPainted(Event):
    TYPE = "tessera.testing.gadget_painted.v1"
    color: str


def cause(cmd_id: str = "cmd-1") -> Envelope:
    return Envelope.for_command(BuildGadget(model="x1"), tenant="acme", actor="alice", source="/test",
                                time=T0, id=cmd_id)


def event_env(event: Event, gadget: str, version: int, index: int = 0) -> Envelope:
    return Envelope.for_event(event, cause=cause(), index=index, aggregate="gadget", aggregateid=gadget,
                              version=version, time=T0)


@pytest.fixture
def recorder(shared_nats):
    tag = uuid.uuid4().hex[:12]
    config = StoreConfig(stream=f"ESM{tag}", event_prefix=f"em{tag}", tracking_prefix=f"tm{tag}")
    rec = JetStreamApplicationRecorder.connect(shared_nats.url, config)
    rec.runner.call(ensure_stream(rec.runner.nc.jetstream(), config), 10)
    yield rec
    rec.close()


def test_envelopes_round_trip_through_the_event_store(recorder):
    store = EventStore(EnvelopeMapper(), recorder)
    gid = uuid.uuid4().hex
    built = event_env(GadgetBuilt(model="x1", rotors=6), gid, 1, 0)
    painted = event_env(GadgetPainted(color="teal"), gid, 2, 1)

    recordings = store.put([built, painted])

    assert [r.notification.id for r in recordings] == [1, 2]
    assert list(store.get(f"acme.gadget.{gid}")) == [built, painted]
    assert list(store.get(f"acme.gadget.{gid}", gt=1)) == [painted]
    # Filed where every other EVT writer files it, with the wire type as topic.
    stored = recorder.runner.call(
        direct.read_subject(recorder.runner.nc, recorder.config.stream, f"{recorder.config.event_prefix}.>"), 10)
    assert [m.subject.split(".", 1)[1] for m in stored] == [
        f"acme.gadget.{gid}.gadget_built", f"acme.gadget.{gid}.gadget_painted"]
    assert stored[0].headers["Tessera-Topic"] == GadgetBuilt.TYPE
    with pytest.raises(IntegrityError):
        store.put([event_env(GadgetPainted(color="red"), gid, 2, 2)])


def test_old_payloads_come_back_upcast(recorder):
    gid = uuid.uuid4().hex
    body = orjson.loads(EnvelopeMapper().to_stored_event(event_env(GadgetBuilt(model="x0", rotors=4), gid, 1)).state)
    body["type"] = "tessera.testing.gadget_built.v1"
    del body["data"]["rotors"]
    recorder.insert_events([StoredEvent(f"acme.gadget.{gid}", 1, body["type"], orjson.dumps(body))])

    [env] = EventStore(EnvelopeMapper(), recorder).get(f"acme.gadget.{gid}")

    assert env.type == GadgetBuilt.TYPE
    assert env.data == GadgetBuilt(model="x0", rotors=4)


def test_compressed_state_and_unreadable_records(recorder):
    store = EventStore(EnvelopeMapper(compressor=ZlibCompressor()), recorder)
    gid = uuid.uuid4().hex
    built = event_env(GadgetBuilt(model="z", rotors=2), gid, 1)
    store.put([built])
    assert list(store.get(f"acme.gadget.{gid}")) == [built]
    with pytest.raises(MapperDeserialisationError, match=f"acme.gadget.{gid} v1"):
        list(EventStore(EnvelopeMapper(), recorder).get(f"acme.gadget.{gid}"))


def test_commands_are_not_stored_as_events():
    with pytest.raises(TypeError, match="event envelopes"):
        EnvelopeMapper().to_stored_event(cause())
