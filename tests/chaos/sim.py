"""D1 driver: a deterministic, seeded chaos run over the real pure domains (no bus).

Role: drive thousands of jobs through the `job` aggregate (domains.scheduling),
the placement engine (domains.allocation) and the `node` aggregate
(domains.registry) the way the handlers in bus/ do (load state, decide, append
the decision's events, feed them to the fleet) while an adversary cancels
jobs, loses and drains nodes, fails runs and times them out, and redelivers
commands (at once, and up to `redeliver_within_s` later) and events (to the
fleet, twice in a row; `p_fleet_late` also out of order, later). Every
allocator decision goes through the job aggregate's `decide`: an illegal one
raises, is counted as rejected and is never applied. A redelivered command is
skipped if `already_applied`, else decided again on the current state.

Checked after EVERY event applied (else `InvariantViolation` names seed and step):
- no GPU index of any node is held by two jobs, in the fleet or in the job
  aggregates; held + free = the node's GPUs, so allocated <= capacity;
- a job is placed only on nodes that exist and are schedulable at that moment
  (per the registry's node aggregate and per the fleet);
- the job's status is the one its last event implies, never an event after a
  terminal one; the fleet's running/queued jobs and per-node allocations equal
  what the job aggregates say; the fleet's node flags equal the registry's;
- a redelivered command never has its effect twice (except MarkUnschedulable
  past the aggregate's applied-ids window, which only restates a stale wait
  reason: counted, see the report); a redelivered event leaves the fleet as if
  delivered once: before every pass the fleet's placement inputs equal those of
  a twin fleet that saw each event exactly once, and every 8th pass both
  fleets' decisions are compared too.
At the end (no new failures, stuck jobs cancelled): every job is in exactly one
terminal state with exactly one terminal event, its history folds to its state,
and the fleet holds zero GPUs and equals the twin.

Deterministic: one `random.Random(seed)`, simulated time, ids from counters;
the same config gives the same ledger and event digest.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from domains.allocation import Fleet, Preempt, place, to_commands
from domains.errors import DomainError
from domains.registry import (
    ClusterState,
    NodeState,
    decide_cluster,
    decide_node,
    evolve_node,
)
from domains.scheduling.job_decide import decide, timed_out
from domains.scheduling.job_state import (
    TERMINAL,
    JobState,
    already_applied,
    evolve_envelope,
    fold,
)
from schemas import fleet as f
from schemas import jobs as j
from schemas.envelope import PLATFORM_TENANT, Envelope
from schemas.values import WaitReason

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CLUSTER = "c1"
TENANTS = ("acme", "globex", "initech")
STATUS_AFTER: dict[type, str] = {
    j.JobSubmitted: "submitted", j.JobAdmitted: "admitted", j.JobRejected: "rejected", j.JobQueued: "queued",
    j.JobPlaced: "placed", j.JobStarting: "starting", j.JobRunning: "running", j.JobRequeued: "queued",
    j.JobSucceeded: "succeeded", j.JobFailed: "failed", j.JobCancelled: "cancelled", j.JobPreempted: "preempted",
    j.JobUnschedulable: "queued"}
ENDING = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)
ALL_GPUS = [list(range(n)) for n in range(1025)]
QUIET = (j.JobSubmitted, j.JobAdmitted, j.JobUnschedulable, j.JobPlaced, j.JobStarting, j.JobRunning)


@dataclass(frozen=True)
class Config:
    seed: int
    jobs: int = 3000
    nodes: int = 20
    gpus_per_node: int = 8
    mean_interarrival_s: float = 12.0
    mean_duration_s: float = 600.0
    p_cancel: float = 0.06
    p_reject: float = 0.03
    p_failed_exit: float = 0.2
    node_loss_every_s: float = 1500.0
    drain_every_s: float = 4000.0
    p_redeliver_now: float = 0.03
    p_redeliver_later: float = 0.03
    redeliver_within_s: float = 600.0
    p_fleet_duplicate: float = 0.05
    p_fleet_late: float = 0.0  # an event redelivered to the fleet up to 10 minutes later, out of order
    pass_every_s: float = 10.0
    policy: str = "binpack"


class InvariantViolation(AssertionError):
    pass


@dataclass
class Ledger:
    counts: Counter = field(default_factory=Counter)
    rejected: Counter = field(default_factory=Counter)  # "Command:code" -> n
    requeued: Counter = field(default_factory=Counter)  # reason code -> n
    stuck: Counter = field(default_factory=Counter)  # wait reason code of jobs cancelled at the end


class Sim:
    def __init__(self, cfg: Config) -> None:
        self.cfg, self.rng = cfg, random.Random(cfg.seed)
        self.clock, self.agenda, self.ticket, self.step, self.command_no = 0.0, [], 0, 0, 0
        self.fleet, self.twin = Fleet(), Fleet()  # the twin sees every event exactly once
        self.jobs: dict[str, JobState] = {}
        self.history: dict[str, list[j.Event]] = {}
        self.tenant_of: dict[str, str] = {}
        self.registry: dict[str, NodeState] = {}
        self.truth: dict[str, dict[str, tuple[int, ...]]] = {}  # node -> job -> GPUs, per the job aggregates
        self.on_node: dict[str, tuple[str, ...]] = {}  # job -> node keys it holds GPUs on
        self.queued: set[str] = set()
        self.outcome: dict[str, str] = {}  # command id -> events | noop | rejected (first delivery)
        self.ledger, self.digest = Ledger(), hashlib.sha256()
        self.calm = self.pass_pending = False

    # --- the loop -------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return T0 + timedelta(seconds=self.clock)

    def at(self, delay: float, action: Any, *args: Any) -> None:
        self.ticket += 1
        heapq.heappush(self.agenda, (self.clock + delay, self.ticket, action, args))

    def drain_agenda(self) -> None:
        while self.agenda:
            self.clock, _, action, args = heapq.heappop(self.agenda)
            action(*args)

    def run(self) -> dict[str, Any]:
        self.onboard()
        self.schedule()
        self.drain_agenda()
        self.cancel_stuck()
        self.drain_agenda()
        self.final_checks()
        return self.summary()

    def fail(self, message: str) -> None:
        raise InvariantViolation(f"seed={self.cfg.seed} step={self.step} t={self.clock:.3f}s: {message}")

    # --- the job aggregate's handler --------------------------------------------

    def send(self, cmd: j.Command, actor: str) -> None:
        self.command_no += 1
        env = Envelope.for_command(cmd, tenant=self.tenant_of[cmd.job_id], actor=actor,  # type: ignore[attr-defined]
                                   source=f"/sim/{actor}", time=self.now, id=f"{actor}-{self.command_no}")
        self.handle(env)
        roll = self.rng.random()
        if roll < self.cfg.p_redeliver_now:
            self.handle(env, redelivered=True)
        elif roll < self.cfg.p_redeliver_now + self.cfg.p_redeliver_later:
            self.at(self.rng.uniform(1, self.cfg.redeliver_within_s), self.handle, env, True)

    def handle(self, env: Envelope, redelivered: bool = False) -> None:
        cmd, count = env.data, self.ledger.counts
        job_id, name = cmd.job_id, type(cmd).__name__  # type: ignore[attr-defined]
        state = self.jobs.get(job_id, JobState())
        if redelivered:
            count["commands redelivered"] += 1
            if already_applied(state, env.id):
                count["redeliveries absorbed: already applied"] += 1
                return
        try:
            events = decide(state, cmd, now=self.now)  # type: ignore[arg-type]
        except DomainError as err:
            self.ledger.rejected[f"{name}:{err.code}" + (" (redelivered)" if redelivered else "")] += 1
            self.outcome.setdefault(env.id, "rejected")
            return
        if redelivered:
            if self.outcome[env.id] == "events":  # forgotten: beyond the aggregate's APPLIED_LIMIT
                count["redeliveries past the applied-ids window"] += 1
                if events and not isinstance(cmd, j.MarkUnschedulable):  # that one only restates a stale reason
                    self.fail(f"redelivered {name} {env.id} applied twice: {events}")
            count["redeliveries absorbed: decided again, no effect" if not events
                  else f"redeliveries with a late first effect: {name}"] += 1
        if events or env.id not in self.outcome:
            self.outcome[env.id] = "events" if events else "noop"
        history = self.history.setdefault(job_id, [])
        for index, event in enumerate(events):
            stored = Envelope.for_event(event, cause=env, index=index, aggregate="job", aggregateid=job_id,
                                        version=len(history) + 1, time=self.now)
            before, state = state, evolve_envelope(state, stored)
            self.jobs[job_id] = state
            history.append(event)
            self.job_event_applied(event, env.tenant, before, state)

    # --- invariants, after every event -------------------------------------------

    def record(self, event: Any) -> None:
        self.step += 1
        self.digest.update(event.TYPE.encode())
        self.digest.update(event.model_dump_json().encode())

    def job_event_applied(self, event: j.Event, tenant: str, before: JobState, after: JobState) -> None:
        self.record(event)
        job_id = event.job_id  # type: ignore[attr-defined]
        if before.status in TERMINAL:
            self.fail(f"{type(event).__name__} after terminal {before.status} of {job_id}")
        if after.status != STATUS_AFTER[type(event)]:
            self.fail(f"{job_id} is {after.status} after {type(event).__name__}")
        if isinstance(event, j.JobPlaced):
            self.place_truth(job_id, event)
        elif isinstance(event, ENDING):
            for key in self.on_node.pop(job_id, ()):
                self.truth[key].pop(job_id, None)
        if isinstance(event, (j.JobQueued, j.JobRequeued)):
            self.queued.add(job_id)
        elif isinstance(event, j.JobPlaced) or after.status in TERMINAL:
            self.queued.discard(job_id)
        self.deliver(event, tenant)
        self.react(event, after)

    def place_truth(self, job_id: str, event: j.JobPlaced) -> None:
        keys = []
        for p in event.placements:
            key = f.node_id(p.cluster, p.node)
            node, registered = self.fleet.nodes.get(key), self.registry.get(key, NodeState())
            if node is None or not node.schedulable or not registered.schedulable:
                self.fail(f"{job_id} placed on {key}, which is missing or not schedulable")
            held = self.truth.setdefault(key, {})
            for gpu in p.gpu_indices:
                owner = next((o for o, ix in held.items() if gpu in ix), None)
                if owner is not None or gpu >= node.spec.gpu_count:  # type: ignore[union-attr]
                    self.fail(f"{job_id} placed on GPU {gpu} of {key}, held by {owner} or beyond capacity")
            held[job_id] = held.get(job_id, ()) + tuple(p.gpu_indices)
            keys.append(key)
        self.on_node[job_id] = tuple(dict.fromkeys(keys))

    def deliver(self, event: Any, tenant: str) -> None:
        try:
            self.fleet.apply(event, tenant=tenant)
            self.twin.apply(event, tenant=tenant)
            roll = self.rng.random()
            if roll < self.cfg.p_fleet_duplicate:
                self.ledger.counts["events redelivered to the fleet"] += 1
                self.fleet.apply(event, tenant=tenant)
            elif roll < self.cfg.p_fleet_duplicate + self.cfg.p_fleet_late:
                self.at(self.rng.uniform(1, 600), self.redeliver_late, event, tenant)
        except DomainError as err:
            self.fail(f"the fleet refused {type(event).__name__} {event}: {err.code} {err}")
        self.check_fleet()

    def redeliver_late(self, event: Any, tenant: str) -> None:
        self.ledger.counts["events redelivered late to the fleet"] += 1
        try:
            self.fleet.apply(event, tenant=tenant)
        except DomainError as err:
            self.fail(f"the fleet refused a late redelivered {type(event).__name__} {event}: {err.code} {err}")
        self.check_fleet()

    def check_fleet(self) -> None:
        truth, registry, none = self.truth, self.registry, {}
        for key, node in self.fleet.nodes.items():
            # held + free == exactly the node's GPUs: no index twice, none beyond the node, allocated <= capacity
            if sorted([g for ix in node.allocs.values() for g in ix] + node.free) != ALL_GPUS[node.spec.gpu_count]:
                self.fail(f"{key}: held {node.allocs} + free {node.free} != its {node.spec.gpu_count} GPUs")
            if node.allocs != truth.get(key, none):
                self.fail(f"{key}: fleet holds {node.allocs}, the job aggregates say {truth.get(key)}")
            reg = registry[key]
            if (node.lost, node.cordoned, node.draining) != (reg.health == "lost", reg.cordoned, reg.draining):
                self.fail(f"{key}: fleet flags differ from the registry's node: {node} vs {reg}")
        if self.fleet.running.keys() != self.on_node.keys():
            self.fail(f"fleet runs {sorted(self.fleet.running.keys() ^ self.on_node.keys())} differently")
        if self.fleet.queued.keys() != self.queued:
            self.fail(f"fleet queue differs on {sorted(self.fleet.queued.keys() ^ self.queued)}")

    # --- the world: registry, gateway, policy, allocator, executor, adversary ------

    def onboard(self) -> None:
        cfg, nodes = self.cfg, []
        for i in range(cfg.nodes):
            h100 = i < cfg.nodes * 0.6
            nodes.append(f.NodeSpec(
                name=f"n{i:03d}", pool="train", platform="h100-sxm" if h100 else "a100-sxm",
                gpu_model="H100" if h100 else "A100", gpu_count=cfg.gpus_per_node, gpu_memory_gb=80 if h100 else 40,
                nvlink_domain=None if i % 5 == 4 else f"nvl-{i:03d}", rack=f"rack-{i // 5}", cpu=128, memory_gb=1024,
                labels={"tier": "gold" if i % 4 == 0 else "silver"}))
        spec = f.ClusterSpec(name=CLUSTER, region="eu-1", backend="simulator", nodes=nodes,
                             pools=[f.PoolSpec(name="train", platforms=["h100-sxm", "a100-sxm"])])
        for event in decide_cluster(ClusterState(), f.OnboardCluster(spec=spec), now=self.now):
            self.platform_event(event)
        for node in nodes:
            self.node_command(f.RecordHeartbeat(cluster=CLUSTER, node=node.name, at=self.now))

    def schedule(self) -> None:
        cfg, rng, t = self.cfg, self.rng, 0.0
        for n in range(cfg.jobs):
            t += rng.expovariate(1 / cfg.mean_interarrival_s)
            self.at(t, self.submit, n)
        for every, action in ((cfg.node_loss_every_s, self.lose_node), (cfg.drain_every_s, self.drain_node)):
            when = rng.expovariate(1 / every)
            while when < t:
                self.at(when, action)
                when += rng.expovariate(1 / every)
        self.at(t + 1, self.calm_down)

    def node_command(self, cmd: Any) -> list[Any]:
        key = f.node_id(cmd.cluster, cmd.node)
        try:
            events = decide_node(self.registry.get(key, NodeState()), cmd, now=self.now)
        except DomainError as err:
            self.ledger.rejected[f"{type(cmd).__name__}:{err.code}"] += 1
            return []
        for event in events:
            self.platform_event(event)
        return events

    def platform_event(self, event: Any) -> None:
        self.record(event)
        if hasattr(event, "node"):
            key = f.node_id(event.cluster, event.node if isinstance(event.node, str) else event.node.name)
            self.registry[key] = evolve_node(self.registry.get(key, NodeState()), event)
        self.deliver(event, PLATFORM_TENANT)
        if isinstance(event, (f.NodeHealthy, f.NodeUncordoned)):
            self.want_pass()

    def random_spec(self, n: int) -> j.JobSpec:
        r = self.rng
        gang = 1 if r.random() < 0.9 else r.choice((2, 3, 4))
        gpus = r.choice((1, 1, 1, 2, 2, 4, 8)) if gang == 1 else r.choice((1, 2, 4))
        model = r.choices((None, "H100", "A100", "B200"), weights=(40, 32, 27, 1))[0]
        priority = r.choice((50, 100, 100, 100, 500, 900))
        extra: dict[str, Any] = {}
        if r.random() < 0.1:
            extra["timeout_s"] = r.randint(60, 1200)
        if r.random() < 0.05:
            extra["node_selector"] = {"tier": "gold"}
        if r.random() < 0.05 and model != "A100":
            extra["min_gpu_memory_gb"] = 80
        if r.random() < 0.05:
            extra["pool"] = "train"
        return j.JobSpec(
            name=f"job-{n}", image="trainer:1", gpus=gpus, gpu_model=model, priority=priority,
            preemptible=priority <= 100 and r.random() < 0.5, gang=gang, cpu=r.choice((1, 2, 4)),
            memory_gb=r.choice((4, 16, 64)), on_node_lost=r.choice(("reschedule", "fail")),
            max_retries=r.choice((0, 0, 1, 2, 3)), duration_s=r.expovariate(1 / self.cfg.mean_duration_s) + 30,
            topology=j.Topology(same_nvlink_domain=r.random() < 0.7, same_rack=gang > 1 and r.random() < 0.5),
            **extra)

    def submit(self, n: int) -> None:
        job_id, rng = f"job-{n:05d}", self.rng
        self.tenant_of[job_id] = rng.choice(TENANTS)
        self.send(j.SubmitJob(job_id=job_id, spec=self.random_spec(n)), "gateway")
        if rng.random() < self.cfg.p_reject:
            self.at(0.5, self.send, j.RejectJob(job_id=job_id, reason=reason("quota_exceeded")), "policy")
        else:
            self.at(0.5, self.send, j.AdmitJob(job_id=job_id), "policy")
        if rng.random() < self.cfg.p_cancel:
            self.at(rng.uniform(0, 1500), self.send, j.CancelJob(job_id=job_id, reason="user"), "gateway")

    def react(self, event: j.Event, state: JobState) -> None:
        """The executor runs what was placed; the allocator passes again when capacity or the queue changed."""
        job_id, attempt, rng = state.job_id, state.attempt, self.rng
        if isinstance(event, j.JobPlaced):
            self.at(rng.uniform(1, 10), self.report, job_id, attempt,
                    j.ReportJobRunning if rng.random() < 0.1 else j.ReportJobStarting)
        elif isinstance(event, j.JobStarting):
            self.at(rng.uniform(1, 30), self.report, job_id, attempt, j.ReportJobRunning)
        elif isinstance(event, j.JobRunning):
            code = 0 if rng.random() >= self.cfg.p_failed_exit else rng.choice((1, 2, 137, 139))
            self.at(state.spec.duration_s, self.report, job_id, attempt, j.ReportJobExited, code)  # type: ignore[union-attr]
            if state.spec.timeout_s:  # type: ignore[union-attr]
                self.at(state.spec.timeout_s + 0.001, self.check_timeout, job_id, attempt)  # type: ignore[union-attr]
        elif isinstance(event, j.JobRequeued):
            self.ledger.requeued[event.reason.code] += 1
        if not isinstance(event, QUIET):
            self.want_pass()

    def report(self, job_id: str, attempt: int, command: type, exit_code: int | None = None) -> None:
        if self.jobs[job_id].attempt != attempt:  # that run's agent is gone: it was requeued since
            self.ledger.counts["stale executor reports dropped"] += 1
            return
        extra = {} if exit_code is None else {"exit_code": exit_code}
        self.send(command(job_id=job_id, **extra), "executor")

    def check_timeout(self, job_id: str, attempt: int) -> None:
        state = self.jobs[job_id]
        if state.attempt == attempt and timed_out(state, self.now):
            self.ledger.counts["jobs timed out"] += 1
            self.send(j.CancelJob(job_id=job_id, reason="timeout"), "sweeper")

    def lose_node(self) -> None:
        alive = [k for k, s in self.registry.items() if s.health != "lost"]
        if self.calm or not alive:
            return
        key = self.rng.choice(alive)
        spec = self.registry[key].spec
        if self.node_command(f.MarkNodeLost(cluster=CLUSTER, node=spec.name)):  # type: ignore[union-attr]
            self.ledger.counts["node losses"] += 1
            for job_id in sorted(self.truth.get(key, {})):
                self.send(j.ReportNodeLost(job_id=job_id, cluster=CLUSTER, node=spec.name), "registry")  # type: ignore[union-attr]
            self.at(self.rng.uniform(300, 3000), self.heartbeat, key)

    def heartbeat(self, key: str) -> None:
        spec = self.registry[key].spec
        if self.node_command(f.RecordHeartbeat(cluster=CLUSTER, node=spec.name, at=self.now)):  # type: ignore[union-attr]
            self.ledger.counts["node recoveries"] += 1

    def drain_node(self) -> None:
        candidates = [k for k, s in self.registry.items() if not s.cordoned]
        if self.calm or not candidates:
            return
        key = self.rng.choice(candidates)
        self.node_command(f.DrainNode(cluster=CLUSTER, node=self.registry[key].spec.name, reason="chaos"))  # type: ignore[union-attr]
        self.ledger.counts["node drains"] += 1
        self.at(self.rng.uniform(600, 3000), self.uncordon, key)

    def uncordon(self, key: str) -> None:
        if self.registry[key].cordoned:
            self.node_command(f.UncordonNode(cluster=CLUSTER, node=self.registry[key].spec.name))  # type: ignore[union-attr]

    def calm_down(self) -> None:
        """No new failures from here on: lost nodes come back, drained ones are uncordoned."""
        self.calm = True
        for key in list(self.registry):
            self.heartbeat(key)
            self.uncordon(key)

    def want_pass(self) -> None:
        if not self.pass_pending:
            self.pass_pending = True
            self.at(self.cfg.pass_every_s, self.run_pass)

    def run_pass(self) -> None:
        self.pass_pending = False
        queue = self.fleet.queue()
        if not queue:
            return
        self.ledger.counts["placement passes"] += 1
        decisions = place(self.fleet, queue, policy=self.cfg.policy, now=self.now)
        if view(self.fleet) != view(self.twin):
            self.fail("redelivered events changed what the allocator decides from")
        passes = self.ledger.counts["placement passes"]
        if passes % 8 == 0 and decisions != place(self.twin, self.twin.queue(), policy=self.cfg.policy, now=self.now):
            self.fail("redelivered events changed the allocator's decisions")
        for decision in decisions:
            if isinstance(decision, Preempt):
                self.ledger.counts["preempt decisions"] += 1
            for cmd in to_commands(decision):
                self.send(cmd, "allocator")

    def cancel_stuck(self) -> None:
        """The end of the drain: what is still queued can never be placed; cancel it."""
        for job_id, state in list(self.jobs.items()):
            if state.status in TERMINAL:
                continue
            if state.status != "queued":
                self.fail(f"{job_id} is {state.status} with nothing left to happen")
            self.ledger.stuck[state.wait_reason.code if state.wait_reason else "none"] += 1
            self.send(j.CancelJob(job_id=job_id, reason="drain"), "gateway")

    # --- the end -----------------------------------------------------------------

    def final_checks(self) -> None:
        for job_id, state in self.jobs.items():
            history = self.history[job_id]
            ends = [e for e in history if STATUS_AFTER[type(e)] in TERMINAL]
            if state.status not in TERMINAL or len(ends) != 1:
                self.fail(f"{job_id} ends {state.status} with terminal events {ends}")
            replayed = fold(history)
            if (replayed.status, replayed.placements, replayed.attempt) != (state.status, state.placements,
                                                                             state.attempt):
                self.fail(f"{job_id}: its history folds to {replayed.status}, live {state.status}")
        used = {t: u for t, u in self.fleet.usage.items() if u[0]}
        if self.fleet.running or self.fleet.queued or used or any(n.allocs for n in self.fleet.nodes.values()):
            self.fail(f"fleet not empty at the end: running={list(self.fleet.running)} usage={used}")
        if self.fleet.snapshot() != self.twin.snapshot():
            self.fail("the fleet that saw redeliveries differs from the twin that saw each event once")

    def summary(self) -> dict[str, Any]:
        events = Counter(type(e).__name__ for h in self.history.values() for e in h)
        return {
            "seed": self.cfg.seed, "jobs submitted": len(self.jobs),
            "terminal": dict(sorted(Counter(s.status for s in self.jobs.values()).items())),
            "events applied": self.step, "placements": events["JobPlaced"],
            "gang placements": sum(len(e.placements) > 1 for h in self.history.values() for e in h
                                   if isinstance(e, j.JobPlaced)),
            "preemptions": events["JobPreempted"], "requeued": dict(sorted(self.ledger.requeued.items())),
            "counts": dict(sorted(self.ledger.counts.items())),
            "commands rejected as illegal": dict(sorted(self.ledger.rejected.items())),
            "cancelled at the end, by wait reason": dict(sorted(self.ledger.stuck.items())),
            "digest": self.digest.hexdigest()[:16],
        }


def view(fleet: Fleet) -> tuple:
    """What placement reads from a fleet, with positions as ranks (a redelivered JobQueued skips a number)."""
    ranked = sorted(fleet.queued.values(), key=lambda q: q.seq)
    return (tuple(fleet.capacity), {t: tuple(u) for t, u in fleet.usage.items() if any(u)},
            {p: c for p, c in fleet.preemptible.items() if c}, [q.job_id for q in ranked],
            sorted(fleet.running, key=lambda k: fleet.running[k].seq),
            sorted(fleet.running, key=lambda k: fleet.running[k].submitted),
            [(k, n.free, n.allocs, n.lost, n.cordoned, n.draining) for k, n in fleet.nodes.items()])


def run(cfg: Config) -> dict[str, Any]:
    return Sim(cfg).run()


def ledger_text(summary: dict[str, Any]) -> str:
    lines = [f"D1 chaos ledger (seed {summary['seed']}, digest {summary['digest']})"]
    for key, value in summary.items():
        if isinstance(value, dict):
            lines.append(f"  {key}:")
            lines += [f"    {k:<58} {v:>8}" for k, v in value.items()]
        elif key not in ("seed", "digest"):
            lines.append(f"  {key:<60} {value:>8}")
    return "\n".join(lines)


def reason(code: str, **details: str | float) -> WaitReason:
    return WaitReason(code=code, details=details)
