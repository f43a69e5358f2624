"""P2 and P6: the placement kernel alone (no I/O) and the scheduler state's memory.

Run:  .venv/bin/python -m tests.bench.bench_placement            (all figures, ~1 min on 2 cores)
      .venv/bin/python -m tests.bench.bench_placement --quick    (P2 small case and P6 only)

Prints one line per figure: name, value, unit, and the target/reference from
TARGETS.md. Each timing is the best of `--repeat` runs (the machines are shared
and noisy); every run places from the same fleet, since `place` never mutates
it. A benchmark, not a test: nothing here asserts a timing.

Figures
  P2a   32,000 single-GPU jobs onto 1,000 nodes x 8 GPUs, binpack     (target <= 0.6 s; Armada Go nodeDb ~0.6 s)
  P2a'  32,000 single-GPU jobs onto 1,000 nodes x 32 GPUs: every job placed (the P2a fleet only holds 8,000)
  P2b   100,000 single-GPU jobs onto 10,000 nodes x 8 GPUs, binpack  (target <= 5 s; 80,000 fit, 20,000 wait)
  P2c   as P2a with the spread policy
  P2d   as P2a but every job constrained (pool + node selector): the scan path
  P2e   mixed: 4,000 jobs of 1/2/4/8 GPUs and 8x8-GPU gangs in one rack, 3 tenants, onto 1,000 nodes
  P2f   folding the events (10,000 NodeRegistered + 100,000 JobQueued) into a Fleet
  P6    scheduler state for 100,000 queued jobs and 10,000 nodes: tracemalloc of the Fleet, process RSS
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
import tracemalloc
from datetime import UTC, datetime

from domains.allocation import Fleet, Placed, place
from schemas.fleet import NodeRegistered, NodeSpec
from schemas.jobs import JobQueued, JobSpec, Topology

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def nodes(count: int, gpus: int = 8) -> list[NodeRegistered]:
    return [NodeRegistered(cluster="bench", node=NodeSpec(
        name=f"n{i}", pool="train" if i % 2 else "default", gpu_model="H100", gpu_count=gpus, gpu_memory_gb=80,
        nvlink_domain=f"nvl{i}", rack=f"r{i // 32}", cpu=128, memory_gb=1024,
        labels={"zone": "a" if i % 4 < 2 else "b"})) for i in range(count)]


def jobs(count: int, **fields) -> list[JobQueued]:
    base = JobSpec(name="j", image="trainer:1", gpus=1, gpu_model="H100", **fields)
    return [JobQueued(job_id=f"j{i}", spec=base) for i in range(count)]


def mixed(count: int) -> list[tuple[JobQueued, str]]:
    out = []
    for i in range(count):
        gang = 8 if i % 50 == 0 else 1
        spec = JobSpec(name="j", image="trainer:1", gpus=8 if gang > 1 else (1, 2, 4, 8)[i % 4], gang=gang,
                       gpu_model="H100", priority=(50, 100, 200)[i % 3], cpu=4, memory_gb=32,
                       topology=Topology(same_rack=gang > 1))
        out.append((JobQueued(job_id=f"m{i}", spec=spec), ("t1", "t2", "t3")[i % 3]))
    return out


def fleet_of(events, tenant_events=()) -> Fleet:
    fleet = Fleet()
    for e in events:
        fleet.apply(e)
    for e, tenant in tenant_events:
        fleet.apply(e, tenant=tenant)
    return fleet


def timed(fleet: Fleet, policy: str, repeat: int) -> tuple[float, list]:
    queue = fleet.queue()
    best, decisions = float("inf"), []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        decisions = place(fleet, queue, policy=policy, now=NOW)
        best = min(best, time.perf_counter() - start)
    return best, decisions


def report(name: str, seconds: float, decisions: list, target: str) -> None:
    placed = sum(isinstance(d, Placed) for d in decisions)
    rate = len(decisions) / seconds if seconds else 0
    print(f"{name:<62} {seconds:8.3f} s   ({placed:,} placed, {len(decisions) - placed:,} waiting, "
          f"{rate:,.0f} jobs/s)   {target}")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    small = fleet_of(nodes(1_000) + jobs(32_000))
    report("P2a 32k x 1 GPU -> 1,000 nodes x 8, binpack", *timed(small, "binpack", args.repeat),
           "target <= 0.6 s (Armada Go ~0.6 s)")
    report("P2a' 32k x 1 GPU -> 1,000 nodes x 32 GPUs (every job placed)",
           *timed(fleet_of(nodes(1_000, gpus=32) + jobs(32_000)), "binpack", args.repeat),
           "same job count, placed path only")
    if not args.quick:
        large = fleet_of(nodes(10_000) + jobs(100_000))
        report("P2b 100k x 1 GPU -> 10,000 nodes x 8, binpack", *timed(large, "binpack", args.repeat),
               "target <= 5 s")
        del large
        report("P2c 32k x 1 GPU -> 1,000 nodes x 8, spread", *timed(small, "spread", args.repeat),
               "target <= 0.6 s")
        constrained = fleet_of(nodes(1_000) + jobs(32_000, pool="train", node_selector={"zone": "a"}))
        report("P2d 32k x 1 GPU, pool+selector (256 eligible nodes)", *timed(constrained, "binpack", args.repeat),
               "no target; scan path")
        report("P2e mixed 4k jobs (1-8 GPUs, 8x8 rack gangs), 3 tenants DRF",
               *timed(fleet_of(nodes(1_000), mixed(4_000)), "binpack", args.repeat), "no target")
        events = nodes(10_000) + jobs(100_000)
        start = time.perf_counter()
        fleet_of(events)
        elapsed = time.perf_counter() - start
        print(f"{'P2f fold 110k events (10k nodes, 100k queued) into a Fleet':<62} {elapsed:8.3f} s   "
              f"({len(events) / elapsed:,.0f} events/s)")
    del small
    gc.collect()
    before_rss = rss_mib()
    tracemalloc.start()
    # Distinct specs per job (as decoded from the log), not one shared instance.
    state = fleet_of([e for e in nodes(10_000)] + [
        JobQueued(job_id=f"q{i}", spec=JobSpec(name=f"q{i}", image="trainer:1", gpus=1 + i % 8, gpu_model="H100",
                                                labels={"team": f"t{i % 7}"})) for i in range(100_000)])
    gc.collect()
    traced, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{'P6 Fleet state: 100k queued jobs + 10k nodes (tracemalloc)':<62} {traced / 2**20:8.1f} MiB   "
          f"target <= 1024 MiB RSS")
    print(f"{'P6 process RSS with that state (grew by)':<62} {rss_mib():8.1f} MiB   "
          f"(+{rss_mib() - before_rss:.1f} MiB; {len(state.queued):,} queued, {len(state.nodes):,} nodes)")


if __name__ == "__main__":
    main()
