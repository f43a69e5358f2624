"""Dispatch reactor: placed jobs become LaunchJob, ended runs StopJob, for each cluster's executor (EXEC).

Follows EVT like the other reactors (view rebuilt from sequence 1, orders only
for events after its tracked position), but its output is not a command on
CMD: `react(event)` returns the orders as messages to `exec.<cluster>.<tenant>.<job>`,
which the runner sends with its batch (`publish_many`: pipelined in log order,
every PubAck awaited before the position moves past the event; runner.py).

- `JobSubmitted` -> remember the spec and the workflow/task.
- `JobPlaced` -> `LaunchJob` to every cluster of the placements (normally one),
  attempt = the job's count of placements so far (= `JobState.attempt`), with
  the full spec, the placements, and for a workflow task its declared outputs
  and its inputs resolved to the upstream job (and run) whose task succeeded.
- `JobCancelled`/`JobPreempted`/`JobRequeued`/`JobFailed` of a launched run ->
  `StopJob` to each of its clusters; `JobSucceeded` -> `StopJob` only to
  clusters other than the lead member's (whose executor reported the exit).
- Inputs: `WorkflowSubmitted` gives each task's `inputs`; `TaskReady` maps
  (workflow, task, task attempt) to its job; `TaskSucceeded` marks that job (and
  its last run) as the producer of the task's outputs.

Ids: every order's envelope id (its `Nats-Msg-Id`) is derived from (tenant,
job, attempt, kind, cluster): an order re-published after a crash (between
publishing and storing the position) is dropped by JetStream within the
duplicate window; executors also run an attempt at most once. The view keeps
only live jobs and running workflows (plus the producers of their outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bus import subjects
from bus.publish import OutMsg
from schemas import Command, Envelope, derived_id, encode
from schemas import jobs as j
from schemas import workflows as w
from schemas.compute import LaunchJob, ResolvedInput, StopJob

STOPS = (j.JobCancelled, j.JobPreempted, j.JobRequeued, j.JobFailed, j.JobSucceeded)
ENDS = (j.JobCancelled, j.JobPreempted, j.JobFailed, j.JobSucceeded, j.JobRejected)
WORKFLOW_ENDS = (w.WorkflowSucceeded, w.WorkflowFailed, w.WorkflowCancelled, w.WorkflowTimedOut)
WORKFLOW_EVENTS = (w.WorkflowSubmitted, w.TaskReady, w.TaskSucceeded, *WORKFLOW_ENDS)
JOB_EVENTS = (j.JobSubmitted, j.JobPlaced, *STOPS, j.JobRejected)
Key = tuple[str, str]  # (tenant, job or workflow id)


@dataclass(frozen=True)
class Order:
    cluster: str
    tenant: str
    job_id: str
    command: Command
    id: str


@dataclass
class Run:
    submitted: j.JobSubmitted
    attempt: int = 0  # placements so far
    clusters: tuple[str, ...] = ()  # of the current run, lead member's first; () once stopped


@dataclass
class Flow:
    tasks: dict[str, w.TaskSpec]
    jobs: dict[tuple[str, int], str] = field(default_factory=dict)  # (task, task attempt) -> job id
    produced: dict[str, tuple[str, int]] = field(default_factory=dict)  # task -> (job id, run) that succeeded


class DispatchView:
    """Pure: `apply(env)` updates the view and returns the orders that event calls for."""

    def __init__(self) -> None:
        self.runs: dict[Key, Run] = {}
        self.flows: dict[Key, Flow] = {}
        self.last_run: dict[Key, int] = {}  # ended workflow jobs -> their last run (inputs of later tasks)

    def apply(self, env: Envelope) -> list[Order]:
        event, tenant = env.data, env.tenant
        if isinstance(event, WORKFLOW_EVENTS):
            self._workflow(tenant, event)
            return []
        if not isinstance(event, JOB_EVENTS):
            return []
        key = (tenant, event.job_id)
        if isinstance(event, j.JobSubmitted):
            self.runs.setdefault(key, Run(event))
            return []
        run = self.runs.get(key)
        if run is None:
            return []
        orders: list[Order] = []
        if isinstance(event, j.JobPlaced):
            orders = self._launch(tenant, run, event)
        elif isinstance(event, STOPS) and run.clusters:
            clusters = run.clusters[1:] if isinstance(event, j.JobSucceeded) else run.clusters
            reason = type(event).__name__ + (f": {event.reason}" if getattr(event, "reason", "") else "")
            orders = [self._order(c, tenant, StopJob(tenant=tenant, job_id=event.job_id, attempt=run.attempt,
                                                      reason=reason)) for c in clusters]
            run.clusters = ()
        if isinstance(event, ENDS):
            del self.runs[key]
            if run.submitted.workflow_id is not None and (tenant, run.submitted.workflow_id) in self.flows:
                self.last_run[key] = run.attempt
        return orders

    def _launch(self, tenant: str, run: Run, placed: j.JobPlaced) -> list[Order]:
        run.attempt += 1
        run.clusters = tuple(dict.fromkeys(p.cluster for p in placed.placements))
        sub = run.submitted
        inputs, outputs = self._io(tenant, sub)
        launch = LaunchJob(tenant=tenant, job_id=sub.job_id, attempt=run.attempt, spec=sub.spec,
                           placements=placed.placements, workflow_id=sub.workflow_id, task=sub.task,
                           inputs=inputs, outputs=outputs)
        return [self._order(c, tenant, launch) for c in run.clusters]

    def _io(self, tenant: str, sub: j.JobSubmitted) -> tuple[list[ResolvedInput], list[str]]:
        flow = self.flows.get((tenant, sub.workflow_id or ""))
        spec = flow.tasks.get(sub.task or "") if flow else None
        if flow is None or spec is None:
            return [], []
        inputs = [ResolvedInput(task=i.task, output=i.output, job_id=flow.produced[i.task][0],
                                attempt=flow.produced[i.task][1])
                  for i in spec.inputs if i.task in flow.produced]
        return inputs, list(spec.outputs)

    def _workflow(self, tenant: str, event) -> None:
        key = (tenant, event.workflow_id)
        if isinstance(event, w.WorkflowSubmitted):
            self.flows.setdefault(key, Flow({t.name: t for t in event.spec.tasks}))
            return
        flow = self.flows.get(key)
        if flow is None:
            return
        if isinstance(event, w.TaskReady):
            flow.jobs[(event.task, event.attempt)] = event.job_id
        elif isinstance(event, w.TaskSucceeded):
            job = flow.jobs.get((event.task, event.attempt))
            if job is not None:
                run = self.runs.get((tenant, job))
                flow.produced[event.task] = (job, run.attempt if run else self.last_run.get((tenant, job), 1))
        elif isinstance(event, WORKFLOW_ENDS):
            del self.flows[key]
            for job in flow.jobs.values():
                self.last_run.pop((tenant, job), None)

    @staticmethod
    def _order(cluster: str, tenant: str, command: LaunchJob | StopJob) -> Order:
        kind = "launch" if isinstance(command, LaunchJob) else "stop"
        order_id = derived_id("exec", tenant, command.job_id, command.attempt, kind, cluster)
        return Order(cluster, tenant, command.job_id, command, order_id)


class Dispatch:
    name = "dispatch"

    def __init__(self, nc=None) -> None:
        self.view = DispatchView()
        self.published = 0  # orders handed to the runner
        self._orders: list[Order] = []

    def apply(self, env: Envelope) -> None:
        self._orders = self.view.apply(env)

    def react(self, env: Envelope) -> list[OutMsg]:
        """The orders of the event just applied (called only for events after the position), as messages the
        runner sends with its batch (pipelined, in log order, each acknowledged before the position moves)."""
        msgs = [OutMsg(subjects.exec_subject(o.cluster, o.tenant, o.job_id), encode(envelope(o, env)), o.id)
                for o in self._orders]
        self.published += len(msgs)
        return msgs


def envelope(order: Order, cause: Envelope) -> Envelope:
    return Envelope.for_command(
        order.command, tenant=order.tenant, actor="reactor:dispatch", source="/tessera/reactor/dispatch",
        time=cause.time, id=order.id, correlationid=cause.correlationid, causationid=cause.id)
