"""T6/T7 for the projections: the runner SIGKILLed between storing effects and storing its position.

10,000 events of a realistic history (tests.factories.projections) are
published to EVT. A child process runs one ProjectionRunner feeding the
registry read models and the ClickHouse sink (chdb on disk) and SIGKILLs itself
right before its K-th write to ClickHouse (K seeded per incarnation): a batch's
rows are stored, or some of them, but not its tracking row. The parent starts
it again, five times over; the sixth incarnation runs to the end of the log.

Each restart resumes the sink from its stored position and re-inserts the rows
of the batch it lost (twins observed in the raw table, absorbed by
ReplacingMergeTree and the set-valued rollups); the registry, in memory,
starts from sequence 1 in the same replay (projections at different positions
share one runner). At the end: the ClickHouse digest equals a clean rebuild
into another database, GPU-seconds, event counts and node use equal the fold
of the history, and the registry's hash and list answers (indexes built once
at the end of the catch-up) equal a registry folded event by event.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

from adapters.clickhouse import client as clickhouse_client
from bus.connection import connect
from bus.publish import Publisher
from bus.settings import Settings
from projections.clickhouse import ClickHouseSink, queries
from projections.registry import Registry
from projections.runner import ProjectionRunner
from schemas import jobs as j
from tests.factories.projections import out_msgs, realistic_history
from tests.integration.test_projection_e2e import expected_gpu_seconds

EVENTS = 10_000
KILLS = 5
DB = "crash"
ROOT = Path(__file__).resolve().parents[2]


def listed(registry: Registry) -> dict[str, list[str]]:
    """List answers that go through every kind of index: filters, eager and lazy sorts, pages."""
    jobs, nodes = registry.jobs, registry.nodes
    return {
        "running": [v.id for v in jobs.list(status="running", page_size=10_000).items],
        "acme_by_priority": [v.id for v in jobs.list(tenant="acme", sort="priority", page_size=10_000).items],
        "team_label": [v.id for v in jobs.list(label="team=gl", sort="-created", page_size=10_000).items],
        "nodes_by_free": [v.id for v in nodes.list(sort="free_gpus", page_size=100).items],
        "train_pool": [v.id for v in nodes.list(pool="train", page_size=100).items],
    }


def expected_event_counts(h) -> Counter:
    return Counter((env.tenant, env.data.type_name()) for env, _ in h.events
                   if isinstance(env.data, (j.JobSubmitted, j.JobAdmitted, j.JobRejected, j.JobQueued,
                                            j.JobUnschedulable, j.JobPlaced, j.JobStarting, j.JobRunning,
                                            j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled,
                                            j.JobPreempted)))


async def test_projections_killed_between_effects_and_position_equal_a_clean_rebuild_and_the_fold(
        nats_server, nc, tmp_path):
    h = realistic_history(seed=11, jobs=2000)
    h.events = h.events[:EVENTS]
    await Publisher(nc).publish_many(out_msgs(h.events))
    chdb, result, starts = tmp_path / "chdb", tmp_path / "result.json", tmp_path / "starts.jsonl"
    rng = random.Random(6)
    for incarnation in range(KILLS + 1):
        kill_before = rng.randrange(2, 14) if incarnation < KILLS else 0  # 0: run to the end
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.integration.test_projection_crash", nats_server.url, str(chdb),
            str(result), str(starts), str(kill_before), cwd=ROOT)
        code = await asyncio.wait_for(child.wait(), timeout=120)
        assert code == (-signal.SIGKILL if kill_before else 0), (incarnation, code)

    folded = Registry()
    for env, seq in h.events:  # event by event, indexes maintained on every write
        folded.apply(env, seq)
    got = json.loads(result.read_text())
    assert got["position"] == EVENTS
    assert got["registry_hash"] == folded.state_hash()
    assert got["lists"] == listed(folded)

    # a kill after some rows of a batch left them stored beyond the tracked position: the next
    # incarnation found them there and stored them again (absorbed: the digests below)
    restarts = [json.loads(line) for line in starts.read_text().splitlines()]
    assert len(restarts) == KILLS + 1 and restarts[0] == {"position": 0, "ahead": 0}
    assert sum(r["ahead"] for r in restarts) > 0, restarts
    assert [r["position"] for r in restarts] == sorted(r["position"] for r in restarts)

    ch = clickhouse_client(chdb)
    try:
        clean = ClickHouseSink(ch, database="clean").setup()
        assert await ProjectionRunner(nc, clean).rebuild() == EVENTS
        assert queries.table_digest(ch, DB) == queries.table_digest(ch, "clean")
        assert queries.gpu_seconds_by_hour(ch, DB) == queries.gpu_seconds_by_hour(ch, "clean")
        assert queries.gpu_seconds_by_tenant(ch, DB) == expected_gpu_seconds(h)
        assert queries.job_event_counts(ch, DB) == expected_event_counts(h)
        assert queries.node_use(ch, DB) == {
            ("c1", n.name): (n.gpus_total, n.used_gpus) for n in folded.nodes.store.values()}
    finally:
        ch.close()


class KillBefore:
    """The ClickHouse client of a child: SIGKILLs the process right before its `n`-th write (0: never)."""

    def __init__(self, client, n: int) -> None:
        self.client, self.left = client, n

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _write(self, fn, *args, **kwargs):
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return fn(*args, **kwargs)

    def insert(self, *args, **kwargs):
        return self._write(self.client.insert, *args, **kwargs)

    def raw_insert(self, *args, **kwargs):
        return self._write(self.client.raw_insert, *args, **kwargs)


def _record_start(path: str, position: int, ahead: int) -> None:
    with open(path, "a") as out:
        out.write(json.dumps({"position": position, "ahead": ahead}) + "\n")


async def _child(url: str, chdb: str, result: str, starts: str, kill_before: int) -> None:
    """One incarnation: both projections from their positions to the end of the log, small batches."""
    nc = await connect(url, Settings())
    ch = clickhouse_client(Path(chdb))
    try:
        registry = Registry()
        sink = ClickHouseSink(KillBefore(ch, kill_before), database=DB).setup()
        ahead = ch.query(f"SELECT count() FROM {DB}.job_events WHERE seq > {{p:UInt64}}",
                         parameters={"p": sink.position()}).result_rows[0][0]
        _record_start(starts, sink.position(), int(ahead))
        runner = ProjectionRunner(nc, [registry, sink], batch_size=200, catch_up_batch=400)
        position = await runner.catch_up()
        Path(result).write_text(json.dumps(
            {"position": position, "registry_hash": registry.state_hash(), "lists": listed(registry)}))
    finally:
        ch.close()
        await nc.close()


if __name__ == "__main__":
    url_, chdb_, result_, starts_, kill_ = sys.argv[1:]
    asyncio.run(_child(url_, chdb_, result_, starts_, int(kill_)))
