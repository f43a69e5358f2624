"""One simulated cluster: a Backend whose runs are timers on GPUs it books, reporting like a real executor.

- Launch: the members placed on this cluster book their GPUs (a GPU booked
  twice, or one the node does not have, is recorded in `violations`: the
  control plane must never do that). The lead cluster's executor reports
  starting (awaited before the LaunchJob is acked), running after `startup_s`,
  and after the run's duration (`Dice`, scaled by `time_scale`) an exit: 0, the
  configured failure code with probability `job_failure_probability`, or none
  at all because its node was lost (`node_loss_probability`).
- Stop: the run's timers are cancelled and its GPUs freed; nothing reported.
- Node loss (`lose_node`): the node stops beating, its runs stop reporting,
  MarkNodeLost is sent if `mark_lost`; with `node_recover_s` it beats again
  later (NodeHealthy). GPUs stay booked until the control plane stops the runs.
- Heartbeats: every `heartbeat_interval_s`, one RecordHeartbeat per live node,
  sent in pipelined batches; none when the interval is None.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from adapters.backend import Executor, PermanentAdapterError, Reporter
from adapters.simulator.dice import Dice
from adapters.simulator.outbox import Outbox
from adapters.simulator.spec import Simulation
from schemas import PLATFORM_TENANT
from schemas import fleet as f
from schemas.compute import LaunchJob, StopJob
from schemas.jobs import ReportJobExited, ReportJobRunning, ReportJobStarting

log = logging.getLogger("tessera.simulator")
Key = tuple[str, str, int]  # (tenant, job, attempt)


@dataclass
class SimRun:
    key: Key
    lead: bool
    gpus: list[tuple[str, int]]
    nodes: set[str]
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class SimulatedCluster:
    def __init__(self, nc, spec: f.ClusterSpec, simulation: Simulation, dice: Dice) -> None:
        self.nc = nc
        self.cluster = spec.name
        self.spec, self.sim, self.dice = spec, simulation, dice
        self.nodes = {n.name: n for n in spec.nodes}
        self.reporter = Reporter(nc, self.cluster, source="/tessera/executor/simulator")
        self.outbox = Outbox(self.reporter)
        self.executor = Executor(nc, self)
        self.runs: dict[Key, SimRun] = {}
        self.booked: dict[tuple[str, int], Key] = {}
        self.lost: set[str] = set()
        self.losses: dict[str, int] = {}  # node -> times lost (ids of its MarkNodeLost)
        self.violations: list[str] = []
        self.finished = {"succeeded": 0, "failed": 0, "lost": 0, "stopped": 0}

    async def launch(self, tenant: str, order: LaunchJob) -> None:
        mine = [p for p in order.placements if p.cluster == self.cluster]
        unknown = sorted({p.node for p in mine} - set(self.nodes))
        if not mine or unknown:
            raise PermanentAdapterError(f"job {order.job_id}: no such node on {self.cluster}: {unknown or 'none'}")
        key = (tenant, order.job_id, order.attempt)
        run = SimRun(key, order.placements[0].cluster == self.cluster,
                     [(p.node, i) for p in mine for i in p.gpu_indices], {p.node for p in mine})
        self._book(run)
        self.runs[key] = run
        if not run.lead:
            return
        await self.outbox.put(tenant, ReportJobStarting(job_id=order.job_id, attempt=order.attempt),
                              "starting", *key)
        if self.runs.get(key) is not run:
            return  # stopped while its start was being reported
        loop, scale = asyncio.get_running_loop(), self.sim.time_scale
        startup = self.sim.startup_s * scale
        run.timers.append(loop.call_later(startup, self._running, run))
        run.timers.append(loop.call_later(startup + self.dice.duration(order.spec) * scale, self._end, run))

    def _book(self, run: SimRun) -> None:
        for node, gpu in run.gpus:
            holder = self.booked.get((node, gpu))
            if gpu >= self.nodes[node].gpu_count:
                self.violations.append(f"{run.key} placed on {node} GPU {gpu}, which does not exist")
            elif holder is not None and holder != run.key:
                self.violations.append(f"{run.key} placed on {node} GPU {gpu}, held by {holder}")
            self.booked[(node, gpu)] = run.key

    def _free(self, run: SimRun) -> None:
        for timer in run.timers:
            timer.cancel()
        for slot in run.gpus:
            if self.booked.get(slot) == run.key:
                del self.booked[slot]

    def _running(self, run: SimRun) -> None:
        tenant, job, attempt = run.key
        self.outbox.put(tenant, ReportJobRunning(job_id=job, attempt=attempt), "running", *run.key)

    def _end(self, run: SimRun) -> None:
        outcome = self.dice.outcome()
        if outcome == "lose_node":
            self.finished["lost"] += 1
            self.lose_node(min(run.nodes))
            return
        self.runs.pop(run.key, None)
        self._free(run)
        tenant, job, attempt = run.key
        code = 0 if outcome == "succeed" else self.sim.failure_exit_code
        self.finished["succeeded" if code == 0 else "failed"] += 1
        report = ReportJobExited(job_id=job, attempt=attempt, exit_code=code,
                                 reason="" if code == 0 else "simulated failure")
        self.outbox.put(tenant, report, "exited", *run.key)

    async def stop(self, tenant: str, order: StopJob) -> None:
        run = self.runs.pop((tenant, order.job_id, order.attempt), None)
        if run is not None:
            self._free(run)
            self.finished["stopped"] += 1

    def lose_node(self, node: str) -> None:
        """The node goes silent: no heartbeats, its runs report nothing more."""
        if node in self.lost:
            return
        self.lost.add(node)
        self.losses[node] = self.losses.get(node, 0) + 1
        for run in self.runs.values():
            if node in run.nodes:
                for timer in run.timers:
                    timer.cancel()
        if self.sim.mark_lost:
            self.outbox.put(PLATFORM_TENANT, f.MarkNodeLost(cluster=self.cluster, node=node, reason="simulated loss"),
                            "lost", node, self.losses[node])
        if self.sim.node_recover_s is not None:
            asyncio.get_running_loop().call_later(self.sim.node_recover_s * self.sim.time_scale,
                                                  self.lost.discard, node)
        log.info("simulator: node %s/%s lost", self.cluster, node)

    async def heartbeats(self) -> None:
        interval = self.sim.heartbeat_interval_s
        if interval is None:
            return
        while True:
            now = datetime.now(UTC)
            beats = [self.reporter.heartbeat(n, now) for n in self.nodes if n not in self.lost]
            for start in range(0, len(beats), 1000):
                try:
                    await self.reporter.send_many(beats[start:start + 1000])
                except Exception as exc:  # a missed beat is the signal; the next round tries again
                    log.warning("simulator %s: heartbeats not sent: %s", self.cluster, exc)
            await asyncio.sleep(interval * self.sim.time_scale)
