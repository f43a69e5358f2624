"""End to end on a real nats-server: a job history published to EVT, projected, replayed from zero.

The history goes through bus.publish.Publisher as encoded envelopes; the
projections read it back with bus.read (replay and follow) through the
ProjectionRunner. Expected answers are computed from the history itself,
independently of the projection code.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from adapters.clickhouse import client as clickhouse_client
from bus.publish import Publisher
from projections.clickhouse import ClickHouseSink, queries
from projections.clickhouse.timestamps import gpu_seconds
from projections.registry import Registry
from projections.registry.jobs import STATUS
from projections.runner import ProjectionRunner
from schemas import jobs as j
from tests.factories.projections import (
    History,
    job_submitted,
    out_msgs,
    realistic_history,
)

DB = "tessera"
ENDS = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)


@pytest.fixture
def ch(tmp_path):
    client = clickhouse_client(tmp_path / "clickhouse")
    yield client
    client.close()


def expected_statuses(h: History) -> Counter:
    last: dict[str, str] = {}
    for env, _ in h.events:
        e = env.data
        if isinstance(e, j.JobSubmitted):
            last[e.job_id] = "submitted"
        elif type(e) in STATUS:
            last[e.job_id] = STATUS[type(e)]
    return Counter(last.values())


def expected_gpu_seconds(h: History) -> dict[tuple[str, str], Decimal]:
    """Placed -> next requeue/terminal, per tenant: the billing rule, computed straight from the history."""
    opened, out = {}, Counter()
    for env, _ in h.events:
        e = env.data
        if isinstance(e, j.JobPlaced):
            opened[e.job_id] = (env.time, sum(len(p.gpu_indices) for p in e.placements))
        elif isinstance(e, ENDS) and e.job_id in opened:
            start, gpus = opened.pop(e.job_id)
            out[(env.tenant, "H100")] += gpu_seconds(gpus, start, env.time)
    return dict(out)


def fold(h: History) -> Registry:
    registry = Registry()
    registry.apply_batch(h.events)
    return registry


async def test_projections_of_a_published_history_answer_like_the_history_and_replay_identically(nc, ch):
    h = realistic_history(jobs=150)
    acks = await Publisher(nc).publish_many(out_msgs(h.events))
    assert [a.seq for a in acks] == [seq for _, seq in h.events]

    registry, sink = Registry(), ClickHouseSink(ch, database=DB).setup()
    reg_runner, ch_runner = ProjectionRunner(nc, registry, batch_size=64), ProjectionRunner(nc, sink, batch_size=64)
    assert await reg_runner.catch_up() == await ch_runner.catch_up() == len(h.events)

    statuses = Counter(v.status for v in registry.jobs.store.values())
    assert statuses == expected_statuses(h) and registry.state_hash() == fold(h).state_hash()
    running = registry.jobs.list(status="running", page_size=1000).items
    used = sum(n.used_gpus for n in registry.nodes.store.values())
    assert used == sum(v.gpus for v in running) and all(n.used_gpus <= n.gpus_total for n in registry.nodes.store.values())
    assert queries.gpu_seconds_by_tenant(ch, DB) == expected_gpu_seconds(h)
    hourly = Counter()
    for tenant, model, _, seconds in queries.gpu_seconds_by_hour(ch, DB):
        hourly[(tenant, model)] += seconds
    assert dict(hourly) == expected_gpu_seconds(h)
    assert queries.node_use(ch, DB) == {("c1", n.name): (n.gpus_total, n.used_gpus) for n in registry.nodes.store.values()}

    live = (registry.state_hash(), queries.table_digest(ch, DB), queries.gpu_seconds_by_hour(ch, DB))
    for _ in range(2):  # T7: rebuild from sequence 1, twice
        assert await reg_runner.rebuild() == await ch_runner.rebuild() == len(h.events)
        assert (registry.state_hash(), queries.table_digest(ch, DB), queries.gpu_seconds_by_hour(ch, DB)) == live


async def test_a_following_runner_applies_events_published_after_it_started(nc):
    h = realistic_history(jobs=20)
    await Publisher(nc).publish_many(out_msgs(h.events[:30]))
    registry, stop = Registry(), asyncio.Event()
    runner = ProjectionRunner(nc, registry, batch_size=8, flush_interval=0.05)
    task = asyncio.create_task(runner.run(stop))
    await Publisher(nc).publish_many(out_msgs(h.events[30:]))
    for _ in range(200):
        if registry.position() == len(h.events):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert registry.state_hash() == fold(h).state_hash()


async def test_a_restarted_runner_resumes_from_the_projections_position_without_reapplying(nc, ch):
    h = History()
    for i in range(10):
        h.job(job_submitted(f"j{i}", gpus=1))
    await Publisher(nc).publish_many(out_msgs(h.events[:6]))
    sink = ClickHouseSink(ch, database=DB).setup()
    await ProjectionRunner(nc, sink).catch_up()
    await Publisher(nc).publish_many(out_msgs(h.events[6:]))
    restarted = ClickHouseSink(ch, database=DB).setup()
    assert restarted.position() == 6
    assert await ProjectionRunner(nc, restarted).catch_up() == 10
    assert queries.job_event_rows(ch, DB) == 10 and queries.job_event_counts(ch, DB) == {("acme", "job_submitted"): 10}


async def test_an_undecodable_event_is_reported_and_passed_over(nc):
    from bus.publish import OutMsg

    h = History()
    h.job(job_submitted("j1"))
    h.job(job_submitted("j2"))
    msgs = out_msgs(h.events)
    bad = OutMsg(subject="evt.acme.job.j9.job_submitted", data=b'{"specversion": "1.0"', msg_id="bad-1")
    await Publisher(nc).publish_many([msgs[0], bad, msgs[1]])
    registry = Registry()
    runner = ProjectionRunner(nc, registry)
    assert await runner.catch_up() == 3
    assert [seq for seq, _ in runner.skipped] == [2] and sorted(registry.jobs.store.ids()) == ["j1", "j2"]
