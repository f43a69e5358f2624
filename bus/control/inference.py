"""Inference reactor: runs each replica slot as a job and reports the job's life back to its deployment.

Follows EVT (a ControlRunner: view rebuilt from sequence 1, reactions after
the tracked position, command ids derived from the event and the reaction's
index, so a re-sent reaction is dropped by JetStream and the target aggregate):

- `ReplicaScheduled` -> SubmitJob(job_id, spec = event.job) (the deployment
  decided the id and spec: domains/inference/spec.py).
- `ReplicaStopping` -> CancelJob(job_id, reason), unless the job has already
  ended (its end reaches the deployment as RecordReplicaState and removes the
  slot).
- Events of a replica's job (known from ReplicaScheduled) -> RecordReplicaState
  to the deployment with the job's status after the event:
  JobUnschedulable "waiting" (with the wait reason), JobPlaced "placed",
  JobStarting "starting", JobRunning "running", JobRequeued "requeued", and
  the ends "succeeded", "failed" (exit code, reason), "cancelled",
  "preempted", "rejected". Admission and queueing are not reported (the slot
  is "pending" already).

Commands go to the deployment's tenant (the event's). A replica is forgotten
once the deployment recorded its end (ReplicaFailed / ReplicaRemoved). Agent
reports (ReportReplicaReady / ReportReplicaLost) do not pass through here:
the agent and discovery send them to CMD themselves.
"""

from __future__ import annotations

from domains.inference import replica_job_id
from schemas import Envelope
from schemas import inference as inf
from schemas import jobs as j

STATES: dict[type, str] = {
    j.JobUnschedulable: "waiting", j.JobPlaced: "placed", j.JobStarting: "starting", j.JobRunning: "running",
    j.JobRequeued: "requeued", j.JobSucceeded: "succeeded", j.JobFailed: "failed", j.JobCancelled: "cancelled",
    j.JobPreempted: "preempted", j.JobRejected: "rejected",
}
ENDS = (j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)


class Inference:
    name = "inference"

    def __init__(self) -> None:
        self.replicas: dict[tuple[str, str], tuple[str, int, int]] = {}  # (tenant, job) -> (deployment, n, gen)
        self.ended: set[tuple[str, str]] = set()  # (tenant, job) of replica jobs that ended

    def apply(self, env: Envelope) -> None:
        event = env.data
        if isinstance(event, inf.ReplicaScheduled):
            self.replicas[(env.tenant, event.job_id)] = (event.deployment_id, event.replica, event.generation)
        elif isinstance(event, (inf.ReplicaFailed, inf.ReplicaRemoved)):
            job = (env.tenant, replica_job_id(event.deployment_id, event.replica, event.generation))
            self.replicas.pop(job, None)
            self.ended.discard(job)
        elif isinstance(event, ENDS) and (env.tenant, event.job_id) in self.replicas:
            self.ended.add((env.tenant, event.job_id))

    def react(self, env: Envelope):
        event = env.data
        if isinstance(event, inf.ReplicaScheduled):
            return [(env.tenant, j.SubmitJob(job_id=event.job_id, spec=event.job))]
        if isinstance(event, inf.ReplicaStopping):
            if (env.tenant, event.job_id) in self.ended:
                return []
            return [(env.tenant, j.CancelJob(job_id=event.job_id, reason=event.reason or "replica stopping"))]
        state = STATES.get(type(event))
        known = self.replicas.get((env.tenant, getattr(event, "job_id", "")))
        if state is None or known is None:
            return []
        deployment, replica, generation = known
        return [(env.tenant, inf.RecordReplicaState(deployment_id=deployment, replica=replica, generation=generation,
                                                    state=state, reason=_reason(event),
                                                    exit_code=getattr(event, "exit_code", None)))]


def _reason(event: j.Event) -> str:
    reason = getattr(event, "reason", "")
    return str(reason)[:1000] if reason else ""
