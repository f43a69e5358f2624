"""The batch command consumer: concurrent across aggregates, in stream order within one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bus import subjects
from bus.aggregates import AggregateStore
from bus.commands import command_consumer
from bus.control.deciders import all_deciders
from bus.eventstore import JetStreamApplicationRecorder
from bus.eventstore.config import StoreConfig
from bus.handler import CommandHandler
from bus.publish import OutMsg, Publisher
from bus.read import load_aggregate, replay
from schemas import Envelope, decode, encode
from schemas import jobs as j
from tests.factories.control import eventually, placement, spec

T0 = datetime(2026, 3, 1, tzinfo=UTC)
LIFECYCLE = ["JobSubmitted", "JobAdmitted", "JobQueued", "JobPlaced", "JobStarting", "JobRunning", "JobSucceeded"]


@pytest.fixture
def handler(nats_server):
    recorder = JetStreamApplicationRecorder.connect(nats_server.url, StoreConfig())
    yield CommandHandler(AggregateStore(recorder), all_deciders(), clock=lambda: T0)
    recorder.close()


def lifecycle(job: str) -> list[j.Command]:
    return [j.SubmitJob(job_id=job, spec=spec(1)), j.AdmitJob(job_id=job),
            j.PlaceJob(job_id=job, placements=[placement("n1", 0)]), j.ReportJobStarting(job_id=job),
            j.ReportJobRunning(job_id=job), j.ReportJobExited(job_id=job, exit_code=0)]


async def test_interleaved_lifecycles_of_many_jobs_all_apply_in_order_without_dead_letters(nc, handler):
    jobs = [f"j{n}" for n in range(30)]
    steps = [lifecycle(job) for job in jobs]
    msgs = []
    for step in range(6):  # step by step across all jobs: one batch holds several commands per job
        for job, commands in zip(jobs, steps):
            env = Envelope.for_command(commands[step], tenant="acme", actor="t", source="/t", time=T0,
                                       id=f"{job}-{step}")
            msgs.append(OutMsg(subjects.subject_for(env), encode(env), env.id))
    await Publisher(nc, stream="CMD").publish_many(msgs)

    consumer = command_consumer(nc, handler, durable="batch", concurrent=True)
    task = asyncio.create_task(consumer.run())
    await eventually(lambda: consumer.stats.acked + consumer.stats.dead_lettered == len(msgs), timeout=60)
    await consumer.stop()
    await task

    assert consumer.stats.dead_lettered == 0
    for job in jobs:
        events = [decode(m.data) for m in await load_aggregate(nc, "acme", "job", job)]
        assert [type(e.data).__name__ for e in events] == LIFECYCLE
    dead: list = []
    await replay(nc, "DLQ", dead.append)
    assert dead == []
