"""The eventsourcing library's own recorder contract tests, against a real nats-server.

One nats-server serves the module; every recorder gets a fresh stream of its
own (`ES<hex>`, subjects `e<hex>.>` and `t<hex>.>`), so notification ids start
at 1 in every test as the contract expects. Then the library's `Application`
and `ProcessApplication` run with `PERSISTENCE_MODULE=bus.eventstore`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError, StoredEvent, Tracking
from eventsourcing.system import ProcessApplication
from eventsourcing.tests.persistence import (
    AggregateRecorderTestCase,
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment, get_topic

from bus.eventstore import (
    Factory,
    JetStreamAggregateRecorder,
    JetStreamApplicationRecorder,
    JetStreamProcessRecorder,
    JetStreamTrackingRecorder,
    Runner,
    StoreConfig,
    ensure_stream,
)
from bus.server import ServerProcess

_server: ServerProcess | None = None
_admin: Runner | None = None


@pytest.fixture(scope="module", autouse=True)
def es_server(tmp_path_factory):
    global _server, _admin
    _server = ServerProcess(store_dir=tmp_path_factory.mktemp("es") / "store", name="es-contract").start()
    _admin = Runner(_server.url, name="es-admin")
    yield _server
    _admin.close()
    _server.stop()
    _server = _admin = None


def fresh_config() -> StoreConfig:
    """A new stream per recorder; prefixes must not overlap other streams on the server."""
    tag = uuid.uuid4().hex[:12]
    config = StoreConfig(stream=f"ES{tag}", event_prefix=f"e{tag}", tracking_prefix=f"t{tag}")
    _admin.call(ensure_stream(_admin.nc.jetstream(), config), 10)
    return config


class RecorderCase:
    recorder_class: type = JetStreamApplicationRecorder

    def setUp(self) -> None:
        super().setUp()
        self._recorders: list[Any] = []

    def tearDown(self) -> None:
        for recorder in self._recorders:
            recorder.close()
        super().tearDown()

    def create_recorder(self):
        recorder = self.recorder_class.connect(_server.url, fresh_config())
        self._recorders.append(recorder)
        return recorder


class TestAggregateRecorder(RecorderCase, AggregateRecorderTestCase):
    recorder_class = JetStreamAggregateRecorder


class TestApplicationRecorder(RecorderCase, ApplicationRecorderTestCase):
    recorder_class = JetStreamApplicationRecorder

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(RecorderCase, TrackingRecorderTestCase):
    recorder_class = JetStreamTrackingRecorder


class TestProcessRecorder(RecorderCase, ProcessRecorderTestCase):
    recorder_class = JetStreamProcessRecorder


class TestNonInterleavingNotificationIDs(RecorderCase, NonInterleavingNotificationIDsBaseCase):
    recorder_class = JetStreamApplicationRecorder


class CustomTrackingRecorder(JetStreamTrackingRecorder):
    pass


class TestFactory(InfrastructureFactoryTestCase[Factory]):
    def setUp(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.env = Environment("TestCase", {
            Factory.PERSISTENCE_MODULE: "bus.eventstore",
            "TESSERA_NATS_URL": _server.url,
            "TESSERA_ES_STREAM": f"ESF{tag}",
            "TESSERA_ES_EVENT_PREFIX": f"ef{tag}",
            "TESSERA_ES_TRACKING_PREFIX": f"tf{tag}",
        })
        super().setUp()

    def expected_factory_class(self):
        return Factory

    def expected_aggregate_recorder_class(self):
        return JetStreamAggregateRecorder

    def expected_application_recorder_class(self):
        return JetStreamApplicationRecorder

    def expected_tracking_recorder_class(self):
        return JetStreamTrackingRecorder

    def tracking_recorder_subclass(self):
        return CustomTrackingRecorder

    def expected_process_recorder_class(self):
        return JetStreamProcessRecorder


# --- what the contract does not cover ------------------------------------------------------------


def test_tracking_between_events_leaves_gaps_in_notification_ids():
    recorder = JetStreamProcessRecorder.connect(_server.url, fresh_config())
    try:
        a, b = uuid.uuid4(), uuid.uuid4()
        ids1 = recorder.insert_events([StoredEvent(a, 1, "t", b"1")], tracking=Tracking("up", 7))
        ids2 = recorder.insert_events([StoredEvent(b, 1, "t", b"2")], tracking=Tracking("up", 8))
        assert (ids1, ids2) == ([1], [3])  # seq 2 is the tracking record of the first batch
        assert [n.id for n in recorder.select_notifications(None, 10)] == [1, 3]
        assert recorder.max_notification_id() == 3
        assert recorder.max_tracking_id("up") == 8
    finally:
        recorder.close()


def test_a_second_writer_sees_the_first_writers_versions_as_conflicts():
    config = fresh_config()
    first = JetStreamApplicationRecorder.connect(_server.url, config)
    second = JetStreamApplicationRecorder.connect(_server.url, config)
    try:
        oid = f"acme.gadget.{uuid.uuid4().hex}"
        first.insert_events([StoredEvent(oid, 1, "t", b"1"), StoredEvent(oid, 2, "t", b"2")])
        with pytest.raises(IntegrityError):  # `second` never read it: its guess (new) is refuted by the server
            second.insert_events([StoredEvent(oid, 2, "t", b"x")])
        assert second.insert_events([StoredEvent(oid, 3, "t", b"3")]) == [3]  # head now known
        with pytest.raises(IntegrityError):  # `first` has a stale head: refreshed, then refused
            first.insert_events([StoredEvent(oid, 3, "t", b"y")])
        assert [e.state for e in first.select_events(oid)] == [b"1", b"2", b"3"]
        assert first.select_notifications(None, 10)[2].originator_id == oid
    finally:
        first.close()
        second.close()


def test_a_batch_over_the_server_limit_is_refused_not_split():
    recorder = JetStreamApplicationRecorder.connect(_server.url, fresh_config())
    try:
        oid = uuid.uuid4()
        too_many = [StoredEvent(oid, v, "t", b"") for v in range(recorder.config.max_batch + 1)]
        with pytest.raises(ValueError, match="atomic batch limit"):
            recorder.insert_events(too_many)
        assert recorder.max_notification_id() is None
    finally:
        recorder.close()


# --- the library's applications on the log --------------------------------------------------------


class Gadget(Aggregate):
    @event("Built")
    def __init__(self, name: str) -> None:
        self.name = name
        self.parts: list[str] = []

    @event("PartAdded")
    def add_part(self, part: str) -> None:
        self.parts.append(part)


class Workshop(Application):
    def build(self, name: str) -> uuid.UUID:
        gadget = Gadget(name)
        self.save(gadget)
        return gadget.id

    def add_part(self, gadget_id: uuid.UUID, part: str) -> None:
        gadget: Gadget = self.repository.get(gadget_id)
        gadget.add_part(part)
        self.save(gadget)


class PartCounter(ProcessApplication):
    """Counts parts per gadget into its own aggregates; its position is tracked in the same stream."""

    def policy(self, domain_event, processing_event) -> None:
        if isinstance(domain_event, Gadget.PartAdded):
            processing_event.collect_events(Tally(domain_event.originator_id, domain_event.part))


class Tally(Aggregate):
    @event("Counted")
    def __init__(self, gadget_id: uuid.UUID, part: str) -> None:
        self.gadget_id = gadget_id
        self.part = part


@pytest.fixture
def es_env(monkeypatch):
    tag = uuid.uuid4().hex[:10]
    env = {
        "PERSISTENCE_MODULE": "bus.eventstore",
        "TESSERA_NATS_URL": _server.url,
        "TESSERA_ES_STREAM": f"ESA{tag}",
        "TESSERA_ES_EVENT_PREFIX": f"ea{tag}",
        "TESSERA_ES_TRACKING_PREFIX": f"ta{tag}",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_application_saves_and_reloads_aggregates_from_the_stream(es_env):
    app = Workshop()
    try:
        assert type(app.recorder) is JetStreamApplicationRecorder
        gid = app.build("drone")
        app.add_part(gid, "rotor")
        app.add_part(gid, "battery")
        reopened = Workshop()  # a new process: nothing cached, everything read from JetStream
        try:
            gadget = reopened.repository.get(gid)
            assert (gadget.name, gadget.parts, gadget.version) == ("drone", ["rotor", "battery"], 3)
            assert reopened.repository.get(gid, version=2).parts == ["rotor"]
            stale: Gadget = app.repository.get(gid)
            gadget.add_part("camera")
            reopened.save(gadget)
            stale.add_part("legs")
            with pytest.raises(IntegrityError):
                app.save(stale)
            notes = reopened.notification_log.select(start=1, limit=10)
            assert [n.originator_version for n in notes] == [1, 2, 3, 4]
        finally:
            reopened.close()
    finally:
        app.close()


def test_application_with_snapshots(es_env, monkeypatch):
    monkeypatch.setenv("IS_SNAPSHOTTING_ENABLED", "yes")
    app = Workshop()
    try:
        gid = app.build("rover")
        app.add_part(gid, "wheel")
        app.take_snapshot(gid)
        app.add_part(gid, "arm")
        assert [s.originator_version for s in app.snapshots.get(gid)] == [2]
        fresh = Workshop()
        try:
            assert fresh.repository.get(gid).parts == ["wheel", "arm"]
        finally:
            fresh.close()
    finally:
        app.close()


def test_process_application_follows_upstream_with_tracking(es_env, monkeypatch):
    from eventsourcing.system import SingleThreadedRunner, System

    tag = uuid.uuid4().hex[:10]  # the counter's own log, so its output is not in the workshop's log
    monkeypatch.setenv("PARTCOUNTER_TESSERA_ES_STREAM", f"ESP{tag}")
    monkeypatch.setenv("PARTCOUNTER_TESSERA_ES_EVENT_PREFIX", f"ep{tag}")
    monkeypatch.setenv("PARTCOUNTER_TESSERA_ES_TRACKING_PREFIX", f"tp{tag}")

    system = System(pipes=[[Workshop, PartCounter]])
    runner = SingleThreadedRunner(system)
    runner.start()
    try:
        workshop = runner.get(Workshop)
        counter = runner.get(PartCounter)
        gid = workshop.build("kite")
        workshop.add_part(gid, "string")
        workshop.add_part(gid, "tail")
        counted = counter.notification_log.select(start=1, limit=10)
        assert [counter.mapper.to_domain_event(n).part for n in counted] == ["string", "tail"]
        assert counter.recorder.max_tracking_id("Workshop") == workshop.recorder.max_notification_id() == 3
        # Replaying the upstream again records nothing twice: the tracking position refuses it.
        with pytest.raises(IntegrityError):
            counter.recorder.insert_events([], tracking=Tracking("Workshop", 3))
    finally:
        runner.stop()


def test_factory_refuses_to_start_without_a_url():
    env = {k: v for k, v in os.environ.items() if k != "TESSERA_NATS_URL"}
    env["PERSISTENCE_MODULE"] = "bus.eventstore"
    factory = Factory(env)
    with pytest.raises(Exception, match="TESSERA_NATS_URL"):
        factory.application_recorder()
    assert get_topic(Factory) == "bus.eventstore.factory:Factory"
