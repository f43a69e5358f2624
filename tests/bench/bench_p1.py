"""P1: jobs submitted -> admitted -> placed -> visible in the read model, on a 5,000 x 8-GPU fleet.

Run:  .venv/bin/python -m tests.bench.bench_p1                 (10,000 jobs at max rate + 20 s at 500 jobs/s)
      .venv/bin/python -m tests.bench.bench_p1 --quick         (smoke run: 2,000 jobs + 5 s at 500 jobs/s)
      options: --jobs N, --rate R, --seconds S, --nodes N, --profile (cProfile of the max-rate phase),
               --gateway-jobs N (0: no P1g), --clients C, --gateway-process

Starts its own nats-server (ServerProcess: temporary store, file storage,
default fsync), then in this process: the `ControlPlane` (command consumer +
reactors) and a `ProjectionRunner` feeding the `Registry` read model (each on
its own connection), and a submitter on a third connection. Only commands enter,
as the gateway sends them:

  setup  the fleet: OnboardCluster commands (clusters of 250 nodes, one command each,
         well under 1 MB), until the read model and every reactor have seen all nodes
  P1r    reference: raw nats-py js.publish_async of messages the size of an encoded
         SubmitJob envelope, to a bench stream, measured in the same run
  P1a    max rate: N SubmitJob envelopes published with Publisher.publish_many (chunks of
         500); jobs/s from the first publish until every job is `placed` in the read model
  P1b    fixed rate: R jobs/s for S seconds (a publish_many every 10 ms of what is due);
         submit->placed latency p50/p95/p99 per job: from the SubmitJob envelope's time
         (taken when it is published) to when the read model showed the job placed, and
         to the JobPlaced envelope's time (the decision)

  P1g    through the HTTP gateway: `GatewayRuntime` (rate limit raised) in the control
         plane's process, as `tessera up` runs it (`--gateway-process`: in a process of its
         own); a load generator in a child process (so it does not take the server's CPU)
         POSTs /v1/jobs with the bootstrap platform-admin token from `--clients` concurrent
         httpx connections, closed loop (each with an Idempotency-Key: a dropped
         connection is retried, at most 3 times). jobs/s from the first POST until every job is
         `placed` in the read model; per job, submit->placed (from just before the POST)
         and submit->202. The gateway answers 202 only once its own read model applied
         JobSubmitted (read-your-writes), so the 202 includes that wait.

Each job asks for 1 H100 GPU (the fleet holds 40,000), so every job is placeable;
the run checks that every job is `placed` in the read model and that no command
was dead-lettered. A benchmark, not a test: nothing asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import logging
import multiprocessing
import os
import platform
import pstats
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import psutil  # noqa: E402
from nats.js.api import StorageType, StreamConfig  # noqa: E402

from bus import subjects  # noqa: E402
from bus.connection import Bus, connect  # noqa: E402
from bus.control import ControlPlane, ControlSettings  # noqa: E402
from bus.publish import OutMsg, Publisher  # noqa: E402
from bus.server import ServerProcess  # noqa: E402
from bus.settings import Settings  # noqa: E402
from bus.streams import ensure_streams  # noqa: E402
from schemas import PLATFORM_TENANT, Envelope, encode  # noqa: E402
from schemas import fleet as f  # noqa: E402
from schemas import jobs as j  # noqa: E402

NODES_PER_CLUSTER = 250
TENANTS = ("acme", "globex", "initech", "umbrella")
SPEC = j.JobSpec(name="train", image="ghcr.io/acme/train:1", gpus=1, gpu_model="H100", command=["python", "train.py"])


def line(name: str, value: float, unit: str, ref: str = "") -> None:
    text = f"{name:<58} {value:>12,.1f} {unit:<10}"
    print(f"{text} {ref}".rstrip(), flush=True)


def now() -> datetime:
    return datetime.now(UTC)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


class PlacedClock:
    """A projection run after the Registry in the same runner: when did the read model show each job placed."""

    name = "placed-clock"
    aggregates = frozenset({"job"})

    def __init__(self, registry) -> None:
        self.registry = registry
        self.seen: dict[str, float] = {}  # job id -> wall time the read model showed it placed
        self.decided: dict[str, float] = {}  # job id -> JobPlaced envelope time
        self.waiters: list[tuple[int, asyncio.Event]] = []
        self.stages: dict[str, float] = {}  # event type -> latest envelope time (when the decision was made)
        self._position = 0

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.seen.clear()
        self._position = 0

    def apply_batch(self, batch) -> int:
        stamp = time.time()
        for env, seq in batch:
            kind = type(env.data).__name__
            self.stages[kind] = max(self.stages.get(kind, 0.0), env.time.timestamp())
            if isinstance(env.data, j.JobPlaced):
                view = self.registry.jobs.get(env.data.job_id, env.tenant)
                if view is not None and view.status == "placed":
                    self.seen.setdefault(env.data.job_id, stamp)
                    self.decided.setdefault(env.data.job_id, env.time.timestamp())
            self._position = seq
        for count, event in self.waiters:
            if len(self.seen) >= count:
                event.set()
        return self._position

    async def wait_for(self, count: int, timeout: float) -> None:
        event = asyncio.Event()
        self.waiters.append((count, event))
        if len(self.seen) >= count:
            event.set()
        await asyncio.wait_for(event.wait(), timeout)


def submit_envelope(run: str, index: int) -> Envelope:
    job = f"{run}-{index:07}"
    return Envelope.for_command(j.SubmitJob(job_id=job, spec=SPEC), tenant=TENANTS[index % len(TENANTS)],
                                actor="user:bench", source="/bench/p1", time=now(), id=f"submit-{job}")


def out(env: Envelope) -> OutMsg:
    return OutMsg(subjects.subject_for(env), encode(env), env.id)


# ----------------------------------------------------------------------------- phases

async def raw_publish_async(nc, n: int, size: int) -> float:
    """The reference: nats-py js.publish_async of `size`-byte messages, 4,000 in flight; msgs/s."""
    js = nc.jetstream(publish_async_max_pending=4000)
    await js.add_stream(StreamConfig(name="RAWP1", subjects=["rawp1.>"], storage=StorageType.FILE))
    payload = b"x" * size
    start = time.perf_counter()
    for i in range(n):
        await js.publish_async("rawp1.x", payload, headers={"Nats-Msg-Id": f"raw-{i}"})
    await js.publish_async_completed()
    rate = n / (time.perf_counter() - start)
    await js.delete_stream("RAWP1")
    return rate


async def onboard(publisher: Publisher, nodes: int) -> int:
    clusters = []
    for c in range(max(1, nodes // NODES_PER_CLUSTER)):
        name = f"c{c:02}"
        spec = f.ClusterSpec(name=name, backend="simulator",
                             nodes=[f.NodeSpec(name=f"n{n:04}", gpu_model="H100", gpu_count=8, gpu_memory_gb=80,
                                               cpu=128, memory_gb=1024, rack=f"r{n // 32}")
                                    for n in range(NODES_PER_CLUSTER)])
        env = Envelope.for_command(f.OnboardCluster(spec=spec), tenant=PLATFORM_TENANT, actor="user:bench",
                                   source="/bench/p1", time=now(), id=f"onboard-{name}")
        msg = out(env)
        assert len(msg.data) < 1_000_000, len(msg.data)
        clusters.append(msg)
    await publisher.publish_many(clusters)
    return len(clusters) * NODES_PER_CLUSTER


async def settled(plane: ControlPlane, nc, registry, nodes: int, timeout: float = 600.0) -> None:
    """Every node in the read model and every reactor at the head of EVT."""
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = (await js.stream_info("EVT")).state.last_seq
        runners = list(plane.runners.values())
        if len(registry.nodes) >= nodes and runners and all(r.position >= last - 64 for r in runners):
            await asyncio.sleep(1.0)
            last2 = (await js.stream_info("EVT")).state.last_seq
            if last2 == last or all(r.position >= last2 - 64 for r in plane.runners.values()):
                return
        await asyncio.sleep(0.5)
    raise TimeoutError("the fleet did not settle")


async def max_rate(publisher: Publisher, clock: PlacedClock, run: str, n: int, chunk: int = 500) -> tuple[float, float]:
    base = len(clock.seen)
    start, wall = time.perf_counter(), time.time()
    for first in range(0, n, chunk):
        await publisher.publish_many([out(submit_envelope(run, i)) for i in range(first, min(n, first + chunk))])
    published = time.perf_counter() - start
    await clock.wait_for(base + n, timeout=max(120.0, n / 20))
    stages = ", ".join(f"{kind[3:]} +{clock.stages[kind] - wall:.2f}" for kind in
                       ("JobSubmitted", "JobQueued", "JobPlaced") if kind in clock.stages)
    print(f"# P1a: last decision of each stage, s after the first submit: {stages}", flush=True)
    return n / (time.perf_counter() - start), n / published


async def fixed_rate(publisher: Publisher, clock: PlacedClock, run: str, rate: float, seconds: float,
                     tick: float = 0.01) -> tuple[list[str], dict[str, float], float]:
    total = int(rate * seconds)
    base = len(clock.seen)
    sent_at: dict[str, float] = {}
    start = time.perf_counter()
    index = 0
    while index < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        if due > index:
            envs = [submit_envelope(run, i) for i in range(index, due)]
            for env in envs:
                sent_at[env.data.job_id] = env.time.timestamp()
            await publisher.publish_many([out(e) for e in envs])
            index = due
        await asyncio.sleep(max(0.0, start + index / rate - time.perf_counter()) or tick / 10)
    achieved = total / (time.perf_counter() - start)
    await clock.wait_for(base + total, timeout=120.0)
    return list(sent_at), sent_at, achieved


# ----------------------------------------------------------------------------- P1g: the HTTP gateway

def gateway_settings():
    from gateway.http.settings import GatewaySettings

    return GatewaySettings(port=0, rate=1e9, burst=1_000_000_000, command_timeout=60.0)


def post_jobs(url: str, token: str, n: int, clients: int) -> list[tuple[str, float, float, int]]:
    """Child process: `n` POST /v1/jobs over `clients` connections; (job id, sent, answered, status) each."""
    return asyncio.run(_post_jobs(url, token, n, clients))


async def _post_jobs(url: str, token: str, n: int, clients: int) -> list[tuple[str, float, float, int]]:
    import httpx

    body = SPEC.model_dump(mode="json", exclude_defaults=True)
    done: list[tuple[str, float, float, int]] = []
    issued = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=120.0) as http:
        async def client() -> None:
            nonlocal issued
            while issued < n:
                index, issued = issued, issued + 1
                sent = time.time()
                headers = {"X-Tessera-Tenant": TENANTS[index % 4], "Idempotency-Key": f"p1g-{index}"}
                for attempt in range(3):  # a dropped connection is retried: the key makes that safe
                    try:
                        answer = await http.post("/v1/jobs", json=body, headers=headers)
                        break
                    except httpx.TransportError as exc:
                        if attempt == 2:
                            done.append((f"{type(exc).__name__}: {exc}", sent, time.time(), 0))
                            answer = None
                if answer is None:
                    continue
                job = answer.json().get("id", "") if answer.status_code == 202 else answer.text[:200]
                done.append((job, sent, time.time(), answer.status_code))

        await asyncio.gather(*(client() for _ in range(clients)))
    return done


def serve_gateway(nats_url: str, conn) -> None:
    """Child process (`--gateway-process`): a GatewayRuntime; sends (url, token), serves until told to stop."""
    asyncio.run(_serve_gateway(nats_url, conn))


async def _serve_gateway(nats_url: str, conn) -> None:
    from gateway.http import GatewayRuntime

    settings = Settings(nats_url=nats_url)
    nc = await connect(nats_url, settings, name="bench-p1-gateway", pending_size=64 * 1024 * 1024)
    gateway = GatewayRuntime(Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_url), gateway_settings())
    try:
        await gateway.start()
        url = await gateway.serve(port=0)
        conn.send((url, await gateway.bootstrap()))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    finally:
        await gateway.stop()
        await nc.close()


async def through_gateway(url: str, token: str, clock: PlacedClock, n: int, clients: int) -> dict[str, float]:
    base = len(clock.seen)
    start = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        done = await asyncio.get_running_loop().run_in_executor(pool, post_jobs, url, token, n, clients)
    answered = time.perf_counter() - start
    refused = [(status, job) for job, _, _, status in done if status != 202]
    if refused:
        print(f"# P1g: {len(refused)} POSTs not accepted, first: {refused[0]}", flush=True)
    await clock.wait_for(base + n - len(refused), timeout=max(120.0, n / 20))
    elapsed = time.perf_counter() - start
    ok = [(job, sent, got) for job, sent, got, status in done if status == 202]
    placed = [(clock.seen[job] - sent) * 1000 for job, sent, _ in ok]
    replied = [(got - sent) * 1000 for _, sent, got in ok]
    return {"rate": len(ok) / elapsed, "answered": len(ok) / answered, **{
        f"placed{p}": percentile(placed, p) for p in (50, 95, 99)}, **{
        f"reply{p}": percentile(replied, p) for p in (50, 95, 99)}, "max": max(placed, default=float("nan"))}


async def gateway_phase(url: str, settings: Settings, clock: PlacedClock, args) -> dict[str, float]:
    if args.gateway_process:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        server = multiprocessing.get_context("spawn").Process(target=serve_gateway, args=(url, child), daemon=True)
        server.start()
        try:
            http, token = await asyncio.get_running_loop().run_in_executor(None, parent.recv)
            cpu = sum(psutil.Process(server.pid).cpu_times()[:2])
            result = await through_gateway(http, token, clock, args.gateway_jobs, args.clients)
            cpu = sum(psutil.Process(server.pid).cpu_times()[:2]) - cpu
            print(f"# P1g: CPU of the gateway's process: {cpu:.1f} s, {cpu / args.gateway_jobs * 1e6:,.0f} us per job",
                  flush=True)
            return result
        finally:
            parent.send("stop")
            await asyncio.get_running_loop().run_in_executor(None, server.join, 30)
    from gateway.http import GatewayRuntime

    nc = await connect(url, settings, name="bench-p1-gateway", pending_size=64 * 1024 * 1024)
    gateway = GatewayRuntime(Bus(nc=nc, js=nc.jetstream(), settings=settings, url=url), gateway_settings())
    try:
        await gateway.start()
        http = await gateway.serve(port=0)
        return await through_gateway(http, await gateway.bootstrap(), clock, args.gateway_jobs, args.clients)
    finally:
        await gateway.stop()
        await nc.close()


async def dead_letters(nc) -> int:
    with contextlib.suppress(Exception):
        return (await nc.jetstream().stream_info("DLQ")).state.messages
    return 0


async def run(url: str, args) -> None:
    from projections.registry import Registry
    from projections.runner import ProjectionRunner

    settings = Settings(nats_url=url)
    nc_plane = await connect(url, settings, name="bench-p1-plane", pending_size=64 * 1024 * 1024)
    nc_read = await connect(url, settings, name="bench-p1-read", pending_size=64 * 1024 * 1024)
    nc_sub = await connect(url, settings, name="bench-p1-submit", pending_size=64 * 1024 * 1024)
    await ensure_streams(nc_sub.jetstream(), settings)
    size = len(out(submit_envelope("p1size", 0)).data)
    raw = await raw_publish_async(nc_sub, args.raw, size)
    line(f"P1r. raw js.publish_async, {size}-byte msgs (reference)", raw, "msgs/s")

    plane = ControlPlane(Bus(nc=nc_plane, js=nc_plane.jetstream(), settings=settings, url=url))
    registry = Registry()
    clock = PlacedClock(registry)
    stop = asyncio.Event()
    reader = asyncio.create_task(ProjectionRunner(nc_read, [registry, clock]).run(stop))
    publisher = Publisher(nc_sub, stream="CMD", timeout=30.0)
    try:
        await plane.start()
        started = time.perf_counter()
        nodes = await onboard(publisher, args.nodes)
        await settled(plane, nc_sub, registry, nodes)
        line(f"setup. {nodes:,} nodes x 8 GPUs onboarded, mirrored, seen by all", time.perf_counter() - started, "s")

        profile = cProfile.Profile(time.process_time) if args.profile else None  # CPU time: the machine is shared
        if profile:
            profile.enable()
        cpu = time.process_time()
        rate, published = await max_rate(publisher, clock, "max", args.jobs)
        cpu = time.process_time() - cpu
        if profile:
            profile.disable()
        print(f"# P1a: CPU of this process (plane + read model + submitter): {cpu:.1f} s, "
              f"{cpu / args.jobs * 1e6:,.0f} us per job", flush=True)
        line(f"P1a. {args.jobs:,} jobs at max rate, submit -> placed in read model", rate, "jobs/s",
             f"{rate / raw * 100:.2f}% of P1r; submitted at {published:,.0f}/s; target >= 2,000")

        jobs, sent_at, achieved = await fixed_rate(publisher, clock, "fix", args.rate, args.seconds)
        seen = [(clock.seen[job] - sent_at[job]) * 1000 for job in jobs]
        decided = [(clock.decided[job] - sent_at[job]) * 1000 for job in jobs]
        line(f"P1b. {len(jobs):,} jobs at {args.rate:g}/s (achieved {achieved:,.0f}/s): p50 submit->placed",
             percentile(seen, 50), "ms", f"(in read model; decided: {percentile(decided, 50):.1f} ms)")
        line("P1b. p95 submit->placed", percentile(seen, 95), "ms", f"(decided: {percentile(decided, 95):.1f} ms)")
        line("P1b. p99 submit->placed", percentile(seen, 99), "ms",
             f"(decided: {percentile(decided, 99):.1f} ms; target <= 100 ms)")
        line("P1b. max submit->placed", max(seen), "ms")
        if args.gateway_jobs:
            gprofile = cProfile.Profile(time.process_time) if args.profile else None
            cpu = time.process_time()
            if gprofile:
                gprofile.enable()
            g = await gateway_phase(url, settings, clock, args)
            if gprofile:
                gprofile.disable()
                if args.profile_out:
                    gprofile.dump_stats(args.profile_out + ".p1g")
            cpu = time.process_time() - cpu
            print(f"# P1g: CPU of this process: {cpu:.1f} s, {cpu / args.gateway_jobs * 1e6:,.0f} us per job",
                  flush=True)
            where = "own process" if args.gateway_process else "plane's process"
            line(f"P1g. {args.gateway_jobs:,} jobs via HTTP ({args.clients} clients, gateway in {where})",
                 g["rate"], "jobs/s", f"submit -> placed in read model; 202s at {g['answered']:,.0f}/s")
            line("P1g. p50 / p95 / p99 POST -> placed", g["placed50"], "ms",
                 f"/ {g['placed95']:,.1f} / {g['placed99']:,.1f} ms (max {g['max']:,.1f})")
            line("P1g. p50 / p95 / p99 POST -> 202 (read-your-writes)", g["reply50"], "ms",
                 f"/ {g['reply95']:,.1f} / {g['reply99']:,.1f} ms")
        placed = sum(1 for job in clock.seen if registry.jobs.get(job).status == "placed")
        letters = await dead_letters(nc_sub)
        passes = plane.runners["placer"].reactor.passes
        print(f"# jobs placed in the read model: {placed:,} of {args.jobs + len(jobs) + args.gateway_jobs:,}; "
              f"dead letters: {letters}; placer passes: {passes:,}", flush=True)
        if profile:
            if args.profile_out:
                profile.dump_stats(args.profile_out)
            report = io.StringIO()
            pstats.Stats(profile, stream=report).sort_stats("tottime").print_stats(35)
            print(f"\n--- cProfile: P1a (tottime, CPU seconds; profiling slows it) ---\n{report.getvalue()}")
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader, 10)
        await plane.stop()
        for nc in (nc_sub, nc_read, nc_plane):
            await nc.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 jobs + 5 s at 500 jobs/s")
    parser.add_argument("--jobs", type=int, default=None, help="jobs submitted at max rate (default 10,000)")
    parser.add_argument("--rate", type=float, default=500.0, help="fixed submission rate, jobs/s (default 500)")
    parser.add_argument("--seconds", type=float, default=None, help="length of the fixed-rate phase (default 20)")
    parser.add_argument("--nodes", type=int, default=5000, help="fleet size, 8 GPUs each (default 5,000)")
    parser.add_argument("--raw", type=int, default=50_000, help="messages of the raw publish reference")
    parser.add_argument("--gateway-jobs", type=int, default=None,
                        help="jobs POSTed through the HTTP gateway (default 2,000; quick 1,000; 0: no P1g)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP connections of P1g (default 64)")
    parser.add_argument("--gateway-process", action="store_true",
                        help="P1g: the gateway in a process of its own (default: in the control plane's)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the max-rate phase")
    parser.add_argument("--profile-out", default=None, help="with --profile: also write the stats to this file")
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (2_000 if args.quick else 10_000)
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    if args.gateway_jobs is None:
        args.gateway_jobs = 1_000 if args.quick else 2_000
    logging.basicConfig(level=logging.WARNING)
    print(f"# bench_p1: Python {platform.python_version()}, nproc {os.cpu_count()}, {platform.machine()}, "
          f"file storage, {args.nodes:,} nodes x 8 GPUs, {args.jobs:,} jobs + {args.rate:g}/s x {args.seconds:g} s",
          flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tessera-bench-p1-") as tmp:
        server = ServerProcess(store_dir=Path(tmp) / "store", name="bench-p1").start()
        try:
            asyncio.run(run(server.url, args))
        finally:
            server.stop()
    print(f"# total {time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
