"""P3: rebuild every read model by replaying the log (1,000,000 events by default).

Run:  .venv/bin/python -m tests.bench.bench_rebuild                 (1,000,000 events, ~6 min on 2 cores)
      .venv/bin/python -m tests.bench.bench_rebuild --quick         (smoke run, 50,000 events)
      options: --events N, --profile (cProfile of the all-projections rebuild, top functions by tottime),
               --only restart [--tail N] (P3r/P3s/P3g only: restart from a snapshot, ~4 min at 1M)

Starts its own nats-server (ServerProcess: temporary store, file storage,
default fsync) and an embedded chdb in a temporary directory, writes N
realistic events to EVT with pipelined publishing (Publisher.publish_many),
then times, over the whole stream:

  P3a  bus.scan (the read every catch-up uses), count only   the reference of every other line
  P3a' bus.read.replay (nats-py's ordered consumer), count only: what P3a replaced
  P3b  bus.scan + schemas.decode of each event           (strict decode)
  P3c  registry read models rebuilt (clusters, nodes, jobs)
  P3d  ClickHouse tables rebuilt (job events, usage intervals, node samples, rollups)
  P3e  all projections together, one runner (one replay, one decode per event)
  P3f  the same two projections in two processes side by side (the registry here, the
       ClickHouse sink in a child process with its own replay and decode): what a
       second core buys when the sink runs as its own service

and prints one line per figure: name, events/s, and the ratio to P3a measured
in the same run (TARGETS.md, "How to report"; target >= 50,000 events/s for
P3e). Each rebuild is checked against the others (registry hash, table digest):
the figures are of correct rebuilds. A benchmark, not a test: nothing asserts a timing.

Restart with snapshots (P3, second half; `--only restart` runs just these):

  P3r  the gateway's read side (registry, identity, fleet view) built from zero
  P3s  snapshot saved to the JetStream Object Store (projections.snapshots) at
       N - tail events; size of the snapshots; the longest the event loop was held
       meanwhile (capture runs in a forked child)
  P3g  restart: fresh models, snapshots loaded, the tail replayed (tail =
       --tail, 10,000 by default); seconds, target <= 5 s, vs P3r; the
       restarted state hashes equal the from-zero ones

The workload: 8 clusters x 250 nodes x 8 GPUs (H100 / A100, pools train and
infer), 400 tenants with a skewed (1/rank) share of the jobs, and jobs that go
submitted -> admitted | rejected -> queued (-> unschedulable) -> placed ->
starting -> running -> succeeded | failed | cancelled | preempted | requeued,
interleaved as a busy fleet would interleave them (up to 8,000 jobs in flight,
GPU indices never given twice), with cordons, drains, node losses (their jobs
requeued) and heartbeats in between. Bodies are what `schemas.encode` writes:
the first event of every type is checked to round-trip byte for byte.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import cProfile
import io
import itertools
import os
import platform
import pstats
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import orjson  # noqa: E402

from bus import read, scan  # noqa: E402
from bus.connection import connect  # noqa: E402
from bus.publish import OutMsg, Publisher  # noqa: E402
from bus.server import ServerProcess  # noqa: E402
from bus.settings import Settings  # noqa: E402
from bus.streams import ensure_streams  # noqa: E402
from schemas import PLATFORM_TENANT, decode, encode, lookup  # noqa: E402
from schemas import fleet as f  # noqa: E402
from schemas import jobs as j  # noqa: E402
from tests.factories.projections import cluster_onboarded, job_spec, node_registered  # noqa: E402

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
MODELS = ("H100", "A100")


# ----------------------------------------------------------------------------- workload

class Workload:
    """A seeded stream of encoded envelopes, as the control plane would write them."""

    def __init__(self, seed: int = 3, *, clusters: int = 8, nodes: int = 250, gpus: int = 8, tenants: int = 400,
                 in_flight: int = 8000) -> None:
        self.rng = random.Random(seed)
        self.clock = 0.0
        self.seq = 0
        self.in_flight = in_flight
        self.versions: dict[str, int] = {}
        self.checked: set[str] = set()
        self.clusters = [f"c{k}" for k in range(clusters)]
        self.nodes = {c: [f"n{i:03}" for i in range(nodes)] for c in self.clusters}
        self.gpus = gpus
        self.free = {(c, n): list(range(gpus)) for c in self.clusters for n in self.nodes[c]}
        self.down: set[tuple[str, str]] = set()  # cordoned, draining or lost: nothing new placed there
        self.lost: list[tuple[str, str]] = []
        self.on_node: dict[tuple[str, str], set[str]] = {}
        self.tenants = [f"t{i:03}" for i in range(tenants)]
        self.cum_weights = list(itertools.accumulate(1 / (i + 1) for i in range(tenants)))
        self.jobs: dict[str, dict] = {}  # job -> {tenant, spec, status, want, gang, model, held, attempt, waited}
        self.active: list[str] = []
        self.specs: dict[tuple, dict] = {}
        self.next_job = 0

    # -- envelope ------------------------------------------------------------
    def _emit(self, tenant: str, aggregate: str, aggid: str, type_str: str, data: dict) -> OutMsg:
        self.seq += 1
        self.clock += self.rng.expovariate(5.0)  # ~0.2 s between events: 1M events span ~2.3 days
        key = f"{aggregate}/{aggid}"
        version = self.versions[key] = self.versions.get(key, 0) + 1
        cause = f"cmd-{self.seq}"
        body = {"specversion": "1.0", "id": f"{self.seq:08x}-0000-5000-8000-{self.rng.getrandbits(48):012x}",
                "source": f"/tessera/{type_str.split('.')[1]}", "type": type_str,
                "time": T0 + timedelta(seconds=round(self.clock, 6)), "datacontenttype": "application/json",
                "tenant": tenant, "actor": "bench", "correlationid": cause, "causationid": cause,
                "aggregate": aggregate, "aggregateid": aggid, "version": version, "data": data}
        raw = orjson.dumps(body, option=orjson.OPT_UTC_Z)
        if type_str not in self.checked:  # the template is exactly what the codec writes and reads
            assert encode(decode(raw)) == raw, type_str
            self.checked.add(type_str)
        return OutMsg(f"evt.{tenant}.{aggregate}.{aggid}.{lookup(type_str).type_name()}", raw, body["id"])

    def _fleet(self, event: f.Event, aggid: str, aggregate: str = "node") -> OutMsg:
        return self._emit(PLATFORM_TENANT, aggregate, aggid, event.TYPE, event.model_dump(mode="json"))

    def _job(self, job: str, cls: type, **fields) -> OutMsg:
        return self._emit(self.jobs[job]["tenant"], "job", job, cls.TYPE, {"job_id": job, **fields})

    # -- the stream ----------------------------------------------------------
    def messages(self, n: int):
        """Exactly `n` OutMsgs: the fleet first, then jobs and fleet churn interleaved."""
        out = self._setup()
        while True:
            for msg in out:
                yield msg
                n -= 1
                if n == 0:
                    return
            out = self._step()

    def _setup(self) -> list[OutMsg]:
        out = []
        for k, c in enumerate(self.clusters):
            out.append(self._fleet(cluster_onboarded(c, pools=("train", "infer"), region=f"r{k % 3}"), c, "cluster"))
            for i, n in enumerate(self.nodes[c]):
                out.append(self._fleet(node_registered(
                    n, c, gpus=self.gpus, model=MODELS[k % 2], pool="infer" if i % 4 == 0 else "train",
                    labels={"zone": f"z{i % 3}"}, rack=f"r{i // 16}"), f.node_id(c, n)))
                out.append(self._fleet(f.NodeHealthy(cluster=c, node=n, at=T0), f.node_id(c, n)))
        return out

    def _step(self) -> list[OutMsg]:
        rng = self.rng
        if rng.random() < 0.002:
            return self._fleet_churn()
        if not self.active or (len(self.active) < self.in_flight and rng.random() < 0.3):
            return self._submit()
        i = rng.randrange(len(self.active))
        return self._advance(self.active[i], i)

    def _spec(self, tenant_rank: int) -> tuple[dict, int, int, str]:
        rng = self.rng
        want, gang = rng.choice((1, 1, 1, 2, 2, 4, 8)), 2 if rng.random() < 0.03 else 1
        model, pool = rng.choice(MODELS), "infer" if rng.random() < 0.25 else "train"
        key = (want, gang, model, pool, tenant_rank % 7, rng.choice((50, 100, 100, 500)))
        if key not in self.specs:
            self.specs[key] = job_spec(name=f"w{tenant_rank % 7}", gpus=want, gang=gang, gpu_model=model, pool=pool,
                                       priority=key[5], labels={"team": f"team{key[4]}", "tier": pool},
                                       command=["python", "train.py"], env={"EPOCHS": "3"}).model_dump(mode="json")
        return self.specs[key], want, gang, model

    def _submit(self) -> list[OutMsg]:
        rank = bisect.bisect(self.cum_weights, self.rng.random() * self.cum_weights[-1])
        job = f"job{self.next_job:07}"
        self.next_job += 1
        spec, want, gang, model = self._spec(rank)
        self.jobs[job] = {"tenant": self.tenants[rank], "spec": spec, "status": "submitted", "want": want,
                          "gang": gang, "model": model, "held": (), "attempt": 0, "waited": False}
        self.active.append(job)
        return [self._job(job, j.JobSubmitted, spec=spec, workflow_id=None, task=None)]

    def _advance(self, job: str, index: int) -> list[OutMsg]:
        rng, state = self.rng, self.jobs[job]
        status = state["status"]
        if status == "submitted":
            if rng.random() < 0.05:
                return self._end(job, index, j.JobRejected, "rejected", reason=_reason("quota_exceeded"))
            state["status"] = "admitted"
            return [self._job(job, j.JobAdmitted)]
        if status == "admitted":
            state["status"] = "queued"
            return [self._job(job, j.JobQueued, spec=state["spec"])]
        if status == "queued":
            if rng.random() < 0.02:
                return self._end(job, index, j.JobCancelled, "cancelled", reason="user")
            return self._place(job)
        if status == "placed":
            state["status"] = "starting"
            return [self._job(job, j.JobStarting)]
        if status == "starting":
            state["status"] = "running"
            return [self._job(job, j.JobRunning)]
        roll = rng.random()  # running: how it ends
        if roll < 0.70:
            return self._end(job, index, j.JobSucceeded, "succeeded")
        if roll < 0.80:
            return self._end(job, index, j.JobFailed, "failed", exit_code=rng.choice((1, 137)), reason="exit")
        if roll < 0.88:
            return self._end(job, index, j.JobCancelled, "cancelled", reason="user")
        if roll < 0.92:
            return self._end(job, index, j.JobPreempted, "preempted", by_job="vip", reason=_reason("preempted"))
        return [self._requeue(job, "preempted")]

    def _place(self, job: str) -> list[OutMsg]:
        state, rng = self.jobs[job], self.rng
        want, model, taken = state["want"], state["model"], []
        clusters = [c for k, c in enumerate(self.clusters) if MODELS[k % 2] == model]
        for _ in range(8 * state["gang"]):
            c = rng.choice(clusters)
            key = (c, rng.choice(self.nodes[c]))
            if key not in self.down and key not in {(p["cluster"], p["node"]) for p in taken} \
                    and len(self.free[key]) >= want:
                taken.append({"cluster": key[0], "node": key[1], "gpu_indices": self.free[key][:want]})
                if len(taken) == state["gang"]:
                    break
        if len(taken) < state["gang"]:
            if state["waited"]:
                return []
            state["waited"] = True
            return [self._job(job, j.JobUnschedulable, reason=_reason("insufficient_gpus", model=model, want=want))]
        for p in taken:
            key = (p["cluster"], p["node"])
            self.free[key] = self.free[key][want:]
            self.on_node.setdefault(key, set()).add(job)
        state.update(status="placed", held=tuple(taken), waited=False)
        return [self._job(job, j.JobPlaced, placements=taken, gpu_model=model)]

    def _release(self, job: str) -> None:
        for p in self.jobs[job]["held"]:
            key = (p["cluster"], p["node"])
            self.free[key] = sorted(self.free[key] + p["gpu_indices"])
            self.on_node[key].discard(job)
        self.jobs[job]["held"] = ()

    def _requeue(self, job: str, code: str) -> OutMsg:
        state = self.jobs[job]
        self._release(job)
        state["attempt"] += 1
        state["status"] = "queued"
        return self._job(job, j.JobRequeued, reason=_reason(code), attempt=state["attempt"])

    def _end(self, job: str, index: int, cls: type, status: str, **fields) -> list[OutMsg]:
        self._release(job)
        last = self.active.pop()
        if index < len(self.active):
            self.active[index] = last
        del self.jobs[job]["spec"]
        self.jobs[job]["status"] = status
        return [self._job(job, cls, **fields)]

    def _fleet_churn(self) -> list[OutMsg]:
        rng = self.rng
        if self.lost and rng.random() < 0.5:  # a lost node comes back
            c, n = self.lost.pop()
            self.down.discard((c, n))
            return [self._fleet(f.NodeHealthy(cluster=c, node=n, at=T0 + timedelta(seconds=self.clock)),
                                f.node_id(c, n))]
        c = rng.choice(self.clusters)
        n = rng.choice(self.nodes[c])
        key, roll = (c, n), rng.random()
        if key in self.down:  # cordoned or draining: back in service (a lost node waits for its heartbeat)
            if key in self.lost:
                return []
            self.down.discard(key)
            return [self._fleet(f.NodeUncordoned(cluster=c, node=n), f.node_id(c, n))]
        self.down.add(key)
        if roll < 0.4:
            return [self._fleet(f.NodeCordoned(cluster=c, node=n, reason="maintenance"), f.node_id(c, n))]
        if roll < 0.6:
            return [self._fleet(f.NodeDrainRequested(cluster=c, node=n, reason="upgrade"), f.node_id(c, n))]
        self.lost.append(key)
        out = [self._fleet(f.NodeLost(cluster=c, node=n, reason=_reason("heartbeat_timeout")), f.node_id(c, n))]
        out += [self._requeue(job, "node_lost") for job in sorted(self.on_node.get(key, ()))]
        return out


def _reason(code: str, **details) -> dict:
    return {"code": code, "details": details}


# ----------------------------------------------------------------------------- output

def line(name: str, value: float, unit: str, ref: str = "") -> None:
    text = f"{name:<58} {value:>12,.0f} {unit:<10}"
    print(f"{text} {ref}".rstrip(), flush=True)


def ratio(value: float, reference: float, what: str = "of P3a") -> str:
    return f"{value / reference:.2f}x {what} {reference:,.0f}/s" if reference else "no reference"


# ----------------------------------------------------------------------------- phases

async def write_events(nc, n: int, chunk: int = 50_000) -> float:
    publisher, workload, batch = Publisher(nc, timeout=30.0), Workload(), []
    start = time.perf_counter()
    for msg in workload.messages(n):
        batch.append(msg)
        if len(batch) == chunk:
            await publisher.publish_many(batch)
            batch = []
    if batch:
        await publisher.publish_many(batch)
    return n / (time.perf_counter() - start)


async def replay_count(nc, with_decode: bool, start_seq: int | None = None) -> int:
    """Every event read by bus.scan (decoded or not); returns how many."""
    count = 0

    def counting(frames) -> None:
        nonlocal count
        count += len(frames)

    def decoding(frames) -> None:
        nonlocal count
        for _, _, data in frames:
            decode(data)
        count += len(frames)

    await scan.scan(nc, "EVT", decoding if with_decode else counting, start_seq=start_seq or 1)
    return count


async def nats_py_count(nc) -> int:
    count = 0

    def counting(stored) -> None:
        nonlocal count
        count += 1

    await read.replay(nc, "EVT", counting)
    return count


async def timed(coro) -> tuple[float, object]:
    start = time.perf_counter()
    result = await coro
    return time.perf_counter() - start, result


async def profiled(coro, top: int = 30) -> tuple[object, str]:
    prof = cProfile.Profile()
    prof.enable()
    try:
        result = await coro
    finally:
        prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return result, out.getvalue()


async def timed_side_by_side(nc, url: str, chdb_path: Path) -> tuple[float, tuple[int, str]]:
    """Registry rebuilt here while a child process rebuilds the ClickHouse tables; both ready before the clock."""
    from projections.registry import Registry
    from projections.runner import ProjectionRunner

    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.bench.bench_rebuild", "--sink-child", url, str(chdb_path),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=Path(__file__).resolve().parents[2])
    assert (await child.stdout.readline()).strip() == b"ready"
    start = time.perf_counter()
    child.stdin.write(b"go\n")
    await child.stdin.drain()
    position = await ProjectionRunner(nc, Registry()).rebuild()
    child_position, digest = orjson.loads(await child.stdout.readline())
    elapsed = time.perf_counter() - start
    await child.wait()
    return elapsed, (min(position, child_position), digest)


async def sink_child(url: str, chdb_path: str) -> None:
    from adapters.clickhouse import client as clickhouse_client
    from projections.clickhouse import ClickHouseSink, queries
    from projections.runner import ProjectionRunner

    nc = await connect(url, Settings(), name="bench-sink", pending_size=64 * 1024 * 1024)
    ch = clickhouse_client(Path(chdb_path))
    sink = ClickHouseSink(ch, database="bench").setup()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    position = await ProjectionRunner(nc, sink).rebuild()
    print(orjson.dumps([position, queries.table_digest(ch, "bench")]).decode(), flush=True)
    ch.close()
    await nc.close()


async def run(url: str, chdb_path: Path, args) -> None:
    from adapters.clickhouse import client as clickhouse_client
    from projections.clickhouse import ClickHouseSink, queries
    from projections.registry import Registry
    from projections.runner import ProjectionRunner

    n = args.events
    nc = await connect(url, Settings(), name="bench-rebuild", pending_size=64 * 1024 * 1024)
    ch = clickhouse_client(chdb_path)
    try:
        await ensure_streams(nc.jetstream(), Settings())
        rate = await write_events(nc, n)
        line(f"P3w. write {n:,} events, Publisher.publish_many", rate, "events/s", f"[{n / rate:.1f} s]")
        if args.only == "restart":
            return await restart(nc, n, args.tail)

        elapsed, count = await timed(replay_count(nc, with_decode=False))
        assert count == n, (count, n)
        raw = n / elapsed
        line("P3a. bus.scan, count only (reference)", raw, "events/s", f"[{elapsed:.1f} s]")
        elapsed, count = await timed(nats_py_count(nc))
        assert count == n, (count, n)
        line("P3a'. bus.read.replay (nats-py ordered consumer), count only", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}]")
        elapsed, count = await timed(replay_count(nc, with_decode=True))
        assert count == n, (count, n)
        line("P3b. bus.scan + schemas.decode each", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}]")

        registry = Registry()
        elapsed, position = await timed(ProjectionRunner(nc, registry).rebuild())
        assert position == n, position
        reg_hash, jobs = registry.state_hash(), len(registry.jobs)
        line("P3c. rebuild registry read models (clusters, nodes, jobs)", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}; {jobs:,} jobs]")

        sink = ClickHouseSink(ch, database="bench").setup()
        elapsed, position = await timed(ProjectionRunner(nc, sink).rebuild())
        assert position == n, position
        digest = queries.table_digest(ch, "bench")
        line("P3d. rebuild ClickHouse tables (chdb) + rollups", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}]")

        registry, sink = Registry(), ClickHouseSink(ch, database="bench").setup()
        runner = ProjectionRunner(nc, [registry, sink])
        if args.profile:
            start = time.perf_counter()
            position, report = await profiled(runner.rebuild())
            elapsed = time.perf_counter() - start
        else:
            elapsed, position = await timed(runner.rebuild())
        assert position == n, position
        line("P3e. rebuild all projections together (one runner)", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}; target >= 50,000/s]")
        same = registry.state_hash() == reg_hash and queries.table_digest(ch, "bench") == digest
        print(f"# P3e equals P3c and P3d (registry hash, table digest): {same}; {digest}", flush=True)
        if args.profile:
            print(f"\n--- cProfile: P3e (tottime; profiling slows it) ---\n{report}")

        elapsed, (position, child_digest) = await timed_side_by_side(nc, url, chdb_path.with_name("clickhouse-2"))
        assert position == n, position
        line("P3f. registry here + ClickHouse in a 2nd process", n / elapsed, "events/s",
             f"[{elapsed:.1f} s; {ratio(n / elapsed, raw)}; same digest: {child_digest == digest}]")
    finally:
        ch.close()
        await nc.close()


async def restart(nc, n: int, tail: int) -> None:
    """P3r, P3s, P3g: the gateway's read side from zero, then from a snapshot + a tail."""
    import logging

    from gateway.http.fleet import FleetView
    from projections.identity import IdentityModel
    from projections.registry import Registry
    from projections.runner import ProjectionRunner
    from projections.snapshots import SnapshotStore, restore_runner

    logging.getLogger("tessera.gateway.fleet").setLevel(logging.ERROR)  # the workload's mirrored node events

    def read_side():
        return [Registry(), IdentityModel(), FleetView()]

    zero = read_side()
    zero_s, position = await timed(ProjectionRunner(nc, zero).catch_up())
    elapsed = zero_s
    assert position == n, position
    line("P3r. gateway read side from zero (registry, identity, fleet)", n / elapsed, "events/s", f"[{elapsed:.1f} s]")

    store, older = SnapshotStore(nc.jetstream()), read_side()
    runner = ProjectionRunner(nc, older)
    await runner.catch_up(until=n - tail)
    held, saving = [0.0], True

    async def ticker() -> None:  # how long the event loop is held (what requests would wait) during the save
        while saving:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            held[0] = max(held[0], time.perf_counter() - before - 0.005)

    ticking = asyncio.create_task(ticker())
    start = time.perf_counter()
    saved = await store.save(older, covered=runner.position())
    saving = False
    await ticking
    size = sum([len(await store.get(f"live/{name}")) for name in saved])
    print(f"{f'P3s. snapshot at seq {n - tail:,} saved':<58} {time.perf_counter() - start:>12.1f} {'s':<10} "
          f"[{size / 1e6:.1f} MB in bucket tessera_snapshots; event loop held at most {held[0] * 1000:.0f} ms]",
          flush=True)

    restarted = read_side()
    start = time.perf_counter()
    runner = ProjectionRunner(nc, restarted)
    loaded = await restore_runner(store, runner)
    load_s = time.perf_counter() - start
    position = await runner.catch_up()
    tail_s = time.perf_counter() - start - load_s
    restarted[0].jobs.list(page_size=1)  # indexes ready for readers
    elapsed = time.perf_counter() - start
    assert loaded == n - tail and position == n, (loaded, position)
    same = [m.state_hash() for m in restarted[:2]] == [m.state_hash() for m in zero[:2]]
    print(f"{'P3g. restart: snapshot + ' + f'{tail:,}-event tail':<58} {elapsed:>12.1f} {'s':<10} "
          f"[load {load_s:.1f} s, tail + indexes {tail_s:.1f} s; P3r from zero {zero_s:.1f} s; target <= 5 s; same hashes: {same}]", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=None, help="events written and replayed (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 50,000 events")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the all-projections rebuild")
    parser.add_argument("--only", choices=("restart",), help="run only these figures (restart: P3r, P3s, P3g)")
    parser.add_argument("--tail", type=int, default=10_000, help="events after the snapshot for P3g")
    parser.add_argument("--sink-child", nargs=2, metavar=("URL", "CHDB"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink_child:
        return asyncio.run(sink_child(*args.sink_child))
    if args.events is None:
        args.events = 50_000 if args.quick else 1_000_000
    print(f"# bench_rebuild: Python {platform.python_version()}, nproc {os.cpu_count()}, {platform.machine()}, "
          f"file storage, chdb embedded, {args.events:,} events", flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-rebuild-") as tmp:
        server = ServerProcess(store_dir=Path(tmp) / "store", name="bench-rebuild").start()
        try:
            asyncio.run(run(server.url, Path(tmp) / "clickhouse", args))
        finally:
            server.stop()
    print(f"# total {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
