"""Placer reactor: the allocation engine on the log. Queued jobs in, PlaceJob / MarkUnschedulable / PreemptJob out.

View: a `domains.allocation.Fleet` folded from every registry and job event
(the tenant from the envelope; mirrored node copies of NodeRegistered/Removed
are skipped, the cluster's originals count), plus the quotas (`QuotaSet`).

When: `react` sends nothing; `flush` (see runner.py: once the runner is at the
head of the log, or every `flush_every` events) runs one `place` pass over the
whole queue if anything that frees capacity or changes the queue happened
since the last pass. One pass per burst keeps a 1,000-job submission from
costing 1,000 passes. Quotas are enforced around the pass (quotas.py).

Never twice (the Job aggregate would refuse a stale command; this avoids sending it):
- a `Placed` decision is folded into the fleet at once (`placed_event`), so the
  next pass neither re-places the job nor hands its GPUs to another before the
  log echoes the JobPlaced (the echo is then a no-op). Should the log say
  otherwise (a placement decided by an earlier run of the placer), the log wins:
  the provisional placement is undone (a synthetic requeue) and the event applied;
- MarkUnschedulable only when the job's wait reason changed;
- PreemptJob once per victim until the victim's release shows up.
Commands go to the job's tenant.
"""

from __future__ import annotations

import logging

from bus.control.passfleet import PassFleet
from bus.control.quotas import QuotaCheck
from domains.allocation import (
    Placed,
    Preempt,
    Unschedulable,
    place,
    placed_event,
    to_commands,
)
from domains.errors import DomainError
from domains.registry import NODE
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j
from schemas.fleet import node_id
from schemas.jobs import MarkUnschedulable, PreemptJob
from schemas.policy import QuotaLimits, QuotaSet
from schemas.values import WaitReason

log = logging.getLogger("tessera.control.placer")
ENDS = (j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)
DIRTY = (j.JobQueued, j.JobRequeued, *ENDS, f.NodeRegistered, f.NodeRemoved, f.NodeUncordoned, f.NodeHealthy,
         QuotaSet)
UNDONE = WaitReason(code="placement_undone")


class Placer:
    name = "placer"

    def __init__(self, policy: str = "binpack") -> None:
        self.policy = policy
        self.fleet = PassFleet()  # passes copy only the nodes they change
        self.limits: dict[str, QuotaLimits] = {}
        self.pending: set[str] = set()  # placed by us, JobPlaced not seen yet
        self.reasons: dict[str, WaitReason] = {}  # last wait reason recorded or sent, per queued job
        self.preempting: set[str] = set()
        self.dirty = False
        self.passes = 0

    def apply(self, env: Envelope) -> None:
        event = env.data
        if env.aggregate == NODE and isinstance(event, (f.NodeRegistered, f.NodeRemoved)):
            return  # the cluster aggregate's original was applied already
        if isinstance(event, QuotaSet):
            self.limits[event.tenant] = event.limits
        elif isinstance(event, j.JobUnschedulable):
            self.reasons[event.job_id] = event.reason
        elif isinstance(event, j.JobPlaced):
            self._echo(event)
        if isinstance(event, (j.JobRequeued, j.JobQueued, *ENDS)):
            self.pending.discard(event.job_id)
            self.reasons.pop(event.job_id, None)
            if isinstance(event, ENDS):
                self.preempting.discard(event.job_id)
        self._fold(env)
        self.dirty = self.dirty or isinstance(event, DIRTY)

    def react(self, env: Envelope):
        return []

    def flush(self, env: Envelope):
        if not self.dirty:
            return []
        self.dirty = False
        self.passes += 1
        quota = QuotaCheck(self.fleet, self.limits)
        queue = [quota.hold(q) for q in self.fleet.queue()]
        tenants = {q.job_id: q.tenant for q in queue}
        out = []
        for decision in place(self.fleet, queue, policy=self.policy, now=env.time):
            tenant = tenants[decision.job_id]
            if isinstance(decision, Placed):
                blocked = quota.admit(tenant, decision)
                if blocked is None:
                    self.fleet.apply(placed_event(decision), tenant=tenant)
                    self.pending.add(decision.job_id)
                    self.reasons.pop(decision.job_id, None)
                    out += [(tenant, c) for c in to_commands(decision)]
                    continue
                decision = Unschedulable(decision.job_id, blocked)
            if isinstance(decision, Preempt):
                for victim in decision.victims:
                    if victim not in self.preempting and victim in self.fleet.running:
                        self.preempting.add(victim)
                        evicted = WaitReason(code="preempted", details={"by_job": decision.job_id})
                        out.append((self.fleet.running[victim].tenant,
                                    PreemptJob(job_id=victim, by_job=decision.job_id, reason=evicted)))
            if self.reasons.get(decision.job_id) != decision.reason:
                self.reasons[decision.job_id] = decision.reason
                out.append((tenant, MarkUnschedulable(job_id=decision.job_id, reason=decision.reason)))
        return out

    def _echo(self, event: j.JobPlaced) -> None:
        """The log's JobPlaced for a job we placed ourselves: agree, or undo ours and take the log's."""
        self.reasons.pop(event.job_id, None)
        if event.job_id not in self.pending:
            return
        self.pending.discard(event.job_id)
        mine = self.fleet.running.get(event.job_id)
        logged = tuple((node_id(p.cluster, p.node), tuple(p.gpu_indices)) for p in event.placements)
        if mine is not None and mine.placements != logged:
            self._undo(event.job_id)

    def _undo(self, job_id: str) -> None:
        self.fleet.apply(j.JobRequeued(job_id=job_id, reason=UNDONE, attempt=1))
        self.dirty = True

    def _fold(self, env: Envelope) -> None:
        try:
            self.fleet.apply(env.data, tenant=env.tenant)
        except DomainError:
            if not self.pending:
                log.exception("placer: event %s (%s) contradicts the fleet; skipped", env.id, env.type)
                return
            for job_id in list(self.pending):  # our in-flight placements stand in the log's way: the log wins
                self._undo(job_id)
            self.pending.clear()
            try:
                self.fleet.apply(env.data, tenant=env.tenant)
            except DomainError:
                log.exception("placer: event %s (%s) contradicts the log; skipped", env.id, env.type)
