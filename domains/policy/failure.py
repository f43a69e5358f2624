"""Failure policy: what happens to a job whose node was lost, per its spec.

`on_node_lost(job, node)` returns "reschedule" (the handler emits JobRequeued:
the GPUs are released and the job queues again) or "fail" (JobFailed), from
`job.spec.on_node_lost`. Losing a node is not the job's fault, so it does not
consume the job's `max_retries`.

`job` is anything with a `spec: JobSpec` (the scheduling state of a job);
when it also has `placements`, the node must be one of them, otherwise the
call is a misrouted node-lost report and raises `JobNotOnNode`. `node` is
anything with `cluster` and `node` (a `NodeLost` event, a `ReportNodeLost`
command, a `Placement`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from domains.policy.errors import JobNotOnNode
from schemas.jobs import JobSpec, Placement

NodeLostAction = Literal["reschedule", "fail"]


class JobLike(Protocol):
    @property
    def spec(self) -> JobSpec: ...


class NodeRef(Protocol):
    @property
    def cluster(self) -> str: ...

    @property
    def node(self) -> str: ...


def on_node_lost(job: JobLike, node: NodeRef) -> NodeLostAction:
    placements: Sequence[Placement] | None = getattr(job, "placements", None)
    if placements is not None and not any(
        p.cluster == node.cluster and p.node == node.node for p in placements
    ):
        raise JobNotOnNode(
            f"node: the job holds no GPUs on {node.cluster}/{node.node}", field="node"
        )
    return job.spec.on_node_lost
