"""Snapshots and time travel of the in-memory read models (issue 6 items 4-5, P3 restart, T7).

Real nats-server (JetStream Object Store bucket `tessera_snapshots`), the
benchmark's realistic workload (fleet + job lifecycles), the real models.
"""

from __future__ import annotations

import logging
import pickle
import threading

import pytest

from bus.direct import get_seq
from bus.publish import Publisher
from gateway.http.fleet import FleetView
from projections.identity import IdentityModel
from projections.registry import Registry
from projections.runner import ProjectionRunner
from projections.snapshots import SnapshotStore, capture, restore, restore_runner
from projections.snapshots import format as snapshot_format
from projections.snapshots.forked import ForkedCapture, SnapshotError
from projections.timetravel import build_past, parse_as_of, seq_at
from schemas import decode
from tests.bench.bench_rebuild import Workload, write_events


@pytest.fixture(autouse=True)
def _quiet_fleet():
    logging.getLogger("tessera.gateway.fleet").setLevel(logging.ERROR)  # the workload's mirrored node events
    yield


def models():
    return [Registry(), IdentityModel(), FleetView()]


def folded(n: int, record: set[int] = frozenset()) -> tuple[Registry, dict[int, str]]:
    """The live fold of the workload's first `n` events, and its hash after each sequence in `record`."""
    registry, hashes = Registry(), {}
    for seq, msg in enumerate(Workload().messages(n), 1):
        registry.apply(decode(msg.data), seq)
        if seq in record:
            hashes[seq] = registry.state_hash()
    return registry, hashes


def test_a_snapshot_round_trip_restores_an_identical_model():
    live, _ = folded(6000)
    blob = capture(live, "EVT@t0")
    restored = Registry()
    assert restore(restored, blob, "EVT@t0") == 6000
    assert restored.state_hash() == live.state_hash()
    # indexes are rebuilt: filtered, sorted pages answer as the live model's do
    for model in ("jobs", "nodes"):
        want = getattr(live, model).list(page_size=7, **({"status": "running"} if model == "jobs" else {}))
        got = getattr(restored, model).list(page_size=7, **({"status": "running"} if model == "jobs" else {}))
        assert got.items == want.items and got.next_cursor == want.next_cursor
    # and it goes on folding like the live one
    for seq, msg in enumerate(Workload().messages(7000), 1):
        if seq > 6000:
            live.apply(decode(msg.data), seq)
            restored.apply(decode(msg.data), seq)
    assert restored.state_hash() == live.state_hash()


async def test_a_snapshot_is_the_state_when_it_was_started_while_the_model_goes_on():
    """Captured in a forked child: the model keeps folding at once, the snapshot is of the moment it started."""
    live, _ = folded(4000)
    before = live.state_hash()
    job = ForkedCapture.start([live], "EVT@t0", None)
    for seq, msg in enumerate(Workload().messages(5000), 1):
        if seq > 4000:
            live.apply(decode(msg.data), seq)
    assert live.state_hash() != before
    blobs = await job.result()
    restored = Registry()
    assert restore(restored, blobs[live.name], "EVT@t0") == 4000
    assert restored.state_hash() == before


class _Unpicklable:
    name = "unpicklable"

    def __init__(self) -> None:
        self.lock = threading.Lock()  # not state a snapshot can hold

    def position(self) -> int:
        return 1

    def state_hash(self) -> str:
        return ""


async def test_a_capture_failing_in_the_child_is_an_error_naming_the_model():
    with pytest.raises(SnapshotError, match="unpicklable"):
        await ForkedCapture.start([_Unpicklable()], "EVT@t0", None).result()


def test_snapshots_of_another_format_code_or_log_are_ignored_never_misread(monkeypatch):
    live, _ = folded(3000)
    blob = capture(live, "EVT@t0")
    target = Registry()
    assert restore(target, blob, "EVT@t1") is None  # another log (a recreated stream)
    assert restore(target, blob, "EVT@t0", end=2000) is None  # past the log's end
    monkeypatch.setattr(snapshot_format, "FORMAT", snapshot_format.FORMAT + 1)  # this code reads a newer format
    assert restore(target, blob, "EVT@t0") is None
    assert target.position() == 0 and len(target.jobs) == 0  # left empty: a rebuild from zero follows
    monkeypatch.undo()
    head = snapshot_format.header(blob)
    older = bytearray(blob)
    fp = head["fingerprint"].encode()
    at = bytes(older).index(fp)
    older[at:at + len(fp)] = b"0" * len(fp)  # taken by another version of the code
    assert restore(target, bytes(older), "EVT@t0") is None
    assert restore(target, b"not a snapshot", "EVT@t0") is None
    assert restore(target, blob, "EVT@t0") == 3000  # the genuine one still loads


def test_a_snapshot_body_naming_anything_else_is_refused():
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("true",))

    live = Registry()
    blob = capture(live, "EVT@t0")
    evil = blob[:snapshot_format._body_start(blob)] + pickle.dumps({"clusters": Evil()}, protocol=5)
    target = Registry()
    assert restore(target, evil, "EVT@t0") is None
    assert target.position() == 0


async def test_restart_loads_the_snapshot_and_replays_only_the_tail_to_the_same_hash(nc):
    await write_events(nc, 4000)
    first = models()
    runner = ProjectionRunner(nc, first)
    await runner.catch_up()
    store = SnapshotStore(nc.jetstream())
    saved = await store.save(first, covered=runner.position())
    assert saved == {"registry": 4000, "identity": 4000, "gateway.fleet": 4000}

    # more events after the snapshot (the same workload, continued)
    await Publisher(nc).publish_many(list(Workload().messages(6000))[4000:])

    restarted = models()
    runner2 = ProjectionRunner(nc, restarted)
    applied = []
    real = restarted[0].apply_batch
    restarted[0].apply_batch = lambda batch: applied.append(batch[0][1]) or real(batch)
    assert await restore_runner(store, runner2) == 4000
    assert await runner2.catch_up() == 6000
    assert min(applied) > 4000  # only the tail was replayed

    zero = models()
    await ProjectionRunner(nc, zero).rebuild()
    assert [m.state_hash() for m in restarted[:2]] == [m.state_hash() for m in zero[:2]]
    assert restarted[2].fleet.__dict__.keys() == zero[2].fleet.__dict__.keys()


async def test_a_past_state_has_the_hash_the_live_system_had_at_that_sequence(nc):
    marks = {1, 2017, 2500, 3999, 5000}
    await write_events(nc, 5000)
    _, live = folded(5000, marks)
    store = SnapshotStore(nc.jetstream())
    runner = ProjectionRunner(nc, [Registry()])
    await runner.catch_up(until=3000)  # a live snapshot in the middle of the log
    await store.save(runner.projections, covered=runner.position())
    for seq in sorted(marks):  # before the snapshot (not usable: from zero), after it (snapshot + tail)
        registry = Registry()
        assert await build_past(nc, [registry], seq, store) == seq
        assert registry.state_hash() == live[seq], seq
    # the same prefix rebuilt twice gives the same hash (T7)
    again = Registry()
    await build_past(nc, [again], 2500, None)
    assert again.state_hash() == live[2500]


async def test_a_time_resolves_to_the_last_sequence_stored_at_or_before_it(nc):
    await write_events(nc, 300)
    stored = await get_seq(nc, "EVT", 120)
    when = parse_as_of(stored.time)
    assert await seq_at(nc, when) >= 120  # several messages can share a timestamp
    assert await seq_at(nc, when.replace(year=2000)) == 0
    assert await seq_at(nc, when.replace(year=2100)) == 300
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_as_of("yesterday")
    with pytest.raises(ValueError, match="zone"):
        parse_as_of("2025-01-01T00:00:00")
