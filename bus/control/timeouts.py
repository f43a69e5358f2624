"""The timeout sweeper: running jobs past `spec.timeout_s` are cancelled, overdue workflows are checked.

View (from EVT): running jobs with a timeout (since = the JobRunning envelope's
time, as `job_state.evolve_envelope` records it) and running workflows with a
timeout (`submitted_at`). Every `interval` seconds, `sweep(now)` sends:
- CancelJob(reason="timeout") for each job with `now - since >= timeout_s`;
- CheckWorkflowTimeout for each workflow with `now >= submitted_at + timeout_s`
  (the workflow decides with its own clock and emits WorkflowTimedOut, whose
  `stop_jobs` the workflow reactor cancels).

Command ids are derived from (kind, tenant, id, the minute of `now`): sweeps
within one minute (or several sweeper processes) send the same ids and
JetStream drops the copies; a later minute's repeat reaches the aggregate, which
refuses or ignores it once the job or workflow has ended.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bus.commands import send
from bus.publish import Publisher
from schemas import Command, Envelope, derived_id
from schemas import jobs as j
from schemas import workflows as w

log = logging.getLogger("tessera.control.timeouts")
JOB_ENDS = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)
WORKFLOW_ENDS = (w.WorkflowSucceeded, w.WorkflowFailed, w.WorkflowCancelled, w.WorkflowTimedOut)


class Timeouts:
    name = "timeouts"

    def __init__(self, nc) -> None:
        self.publisher = Publisher(nc, stream="CMD")
        self.limits: dict[tuple[str, str], int] = {}  # job -> timeout_s
        self.jobs: dict[tuple[str, str], datetime] = {}  # running job -> deadline
        self.workflows: dict[tuple[str, str], datetime] = {}  # running workflow -> deadline
        self.sent = 0

    def apply(self, env: Envelope) -> None:
        event = env.data
        key = (env.tenant, getattr(event, "job_id", None) or getattr(event, "workflow_id", ""))
        if isinstance(event, j.JobSubmitted) and event.spec.timeout_s:
            self.limits[key] = event.spec.timeout_s
        elif isinstance(event, j.JobRunning) and key in self.limits:
            self.jobs.setdefault(key, env.time + timedelta(seconds=self.limits[key]))
        elif isinstance(event, JOB_ENDS):
            self.jobs.pop(key, None)
            if not isinstance(event, j.JobRequeued):
                self.limits.pop(key, None)
        elif isinstance(event, w.WorkflowSubmitted) and event.spec.timeout_s:
            self.workflows[key] = event.submitted_at + timedelta(seconds=event.spec.timeout_s)
        elif isinstance(event, WORKFLOW_ENDS):
            self.workflows.pop(key, None)

    def react(self, env: Envelope):
        return []

    def due(self, now: datetime) -> list[tuple[str, str, Command]]:
        """(tenant, command id, command) for everything overdue at `now`, in a stable order."""
        minute = now.strftime("%Y%m%dT%H%M")
        out: list[tuple[str, str, Command]] = []
        for (tenant, job), deadline in sorted(self.jobs.items()):
            if now >= deadline:
                out.append((tenant, derived_id("timeout", "job", tenant, job, minute),
                            j.CancelJob(job_id=job, reason="timeout")))
        for (tenant, workflow), deadline in sorted(self.workflows.items()):
            if now >= deadline:
                out.append((tenant, derived_id("timeout", "workflow", tenant, workflow, minute),
                            w.CheckWorkflowTimeout(workflow_id=workflow)))
        return out

    async def sweep(self, now: datetime) -> int:
        due = self.due(now)
        for tenant, command_id, command in due:
            await send(self.publisher, Envelope.for_command(
                command, tenant=tenant, actor="timeouts", source="/tessera/control/timeouts", time=now,
                id=command_id))
        self.sent += len(due)
        return len(due)
