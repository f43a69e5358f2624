"""Node reactor: what a lost or drained node means for the jobs placed on it.

View: which jobs hold GPUs on which node (JobPlaced until a release), each
job's `on_node_lost` (from JobSubmitted), and which nodes are lost or draining.

- `NodeLost` -> ReportNodeLost for every job placed there; the job's own policy
  (`on_node_lost`) decides: reschedule requeues it (the placer places it
  elsewhere, the lost node is unschedulable), fail fails it. A job whose
  JobPlaced on a node shows up after that node was lost (its placement was in
  flight) gets its ReportNodeLost then.
- `NodeDrainRequested` (decision): draining moves what can move and lets the
  rest finish. Jobs with `on_node_lost: reschedule` get ReportNodeLost (they are
  requeued, reason `node_lost`, and placed elsewhere); jobs with `fail` are not
  killed: the node is already cordoned, so nothing new lands, and they end on
  their own (or by an operator's cancel). Uncordoning ends the drain.
- A node that comes back healthy (`NodeHealthy`) is no longer lost.
Commands go to each job's tenant.
"""

from __future__ import annotations

from domains.registry import NODE
from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j
from schemas.fleet import node_id

RELEASES = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)
JobKey = tuple[str, str]  # (tenant, job id)


class Nodes:
    name = "nodes"

    def __init__(self) -> None:
        self.on_node: dict[str, dict[JobKey, None]] = {}  # node id -> jobs placed there, in placement order
        self.placed: dict[JobKey, list[tuple[str, str]]] = {}  # job -> (cluster, node) of its placements
        self.policy: dict[JobKey, str] = {}  # job -> on_node_lost
        self.lost: set[str] = set()

    def apply(self, env: Envelope) -> None:
        event, key = env.data, (env.tenant, getattr(env.data, "job_id", ""))
        if isinstance(event, j.JobSubmitted):
            self.policy[key] = event.spec.on_node_lost
        elif isinstance(event, j.JobPlaced):
            self._release(key)
            self.placed[key] = [(p.cluster, p.node) for p in event.placements]
            for cluster, node in self.placed[key]:
                self.on_node.setdefault(node_id(cluster, node), {})[key] = None
        elif isinstance(event, RELEASES):
            self._release(key)
            if not isinstance(event, j.JobRequeued):
                self.policy.pop(key, None)
        elif isinstance(event, f.NodeLost):
            self.lost.add(node_id(event.cluster, event.node))
        elif isinstance(event, (f.NodeHealthy, f.NodeRegistered)) and env.aggregate == NODE:
            self.lost.discard(node_id(event.cluster, _name(event)))

    def react(self, env: Envelope):
        event = env.data
        if isinstance(event, f.NodeLost):
            return self._report(event.cluster, event.node, lambda key: True)
        if isinstance(event, f.NodeDrainRequested):
            return self._report(event.cluster, event.node, lambda key: self.policy.get(key) == "reschedule")
        if isinstance(event, j.JobPlaced):
            key = (env.tenant, event.job_id)
            return [(env.tenant, j.ReportNodeLost(job_id=event.job_id, cluster=c, node=n))
                    for c, n in self.placed.get(key, []) if node_id(c, n) in self.lost][:1]
        return []

    def _report(self, cluster: str, node: str, wanted):
        jobs = self.on_node.get(node_id(cluster, node), {})
        return [(tenant, j.ReportNodeLost(job_id=job, cluster=cluster, node=node))
                for tenant, job in jobs if wanted((tenant, job))]

    def _release(self, key: JobKey) -> None:
        for cluster, node in self.placed.pop(key, []):
            self.on_node.get(node_id(cluster, node), {}).pop(key, None)


def _name(event: f.NodeHealthy | f.NodeRegistered) -> str:
    return event.node.name if isinstance(event, f.NodeRegistered) else event.node
