"""Workflow reactor: runs each ready task as a job and reports the job's life back to its workflow.

- `TaskReady` -> SubmitJob(job_id from the event, spec = event.job, workflow_id, task).
- For jobs of a workflow (known from TaskReady: workflow, task, attempt):
  JobRunning -> RecordTaskStarted; JobSucceeded -> RecordTaskExited(0);
  JobFailed -> RecordTaskExited(exit_code, or 1 when the job never exited itself,
  e.g. its node was lost); and jobs that ended without an exit of their own, as
  failing exits the task's `exit_actions` can map (e.g. `137: reschedule`):
  JobPreempted -> 137 (killed), JobCancelled -> 143 (terminated), JobRejected
  -> 126 (could not run: the task's job was refused admission).
  Reports carry the attempt, so a late report of an older run is ignored by the workflow.
- `WorkflowCancelled` / `WorkflowTimedOut` -> CancelJob for every `stop_jobs` entry.

Once a workflow ended, no further reports are sent for its jobs (the workflow
would ignore them). Commands go to the workflow's tenant (the event's).
"""

from __future__ import annotations

from schemas import Envelope
from schemas import jobs as j
from schemas import workflows as w

EXIT_PREEMPTED = 137
EXIT_CANCELLED = 143
EXIT_REJECTED = 126
ENDED = (w.WorkflowSucceeded, w.WorkflowFailed, w.WorkflowCancelled, w.WorkflowTimedOut)


class Workflows:
    name = "workflows"

    def __init__(self) -> None:
        self.tasks: dict[tuple[str, str], tuple[str, str, int]] = {}  # (tenant, job) -> (workflow, task, attempt)
        self.ended: set[tuple[str, str]] = set()  # (tenant, workflow)

    def apply(self, env: Envelope) -> None:
        event = env.data
        if isinstance(event, w.TaskReady):
            self.tasks[(env.tenant, event.job_id)] = (event.workflow_id, event.task, event.attempt)
        elif isinstance(event, ENDED):
            self.ended.add((env.tenant, event.workflow_id))

    def react(self, env: Envelope):
        event = env.data
        if isinstance(event, w.TaskReady):
            return [(env.tenant, j.SubmitJob(job_id=event.job_id, spec=event.job, workflow_id=event.workflow_id,
                                             task=event.task))]
        if isinstance(event, (w.WorkflowCancelled, w.WorkflowTimedOut)):
            reason = "workflow cancelled" if isinstance(event, w.WorkflowCancelled) else "workflow timed out"
            return [(env.tenant, j.CancelJob(job_id=job, reason=reason)) for job in event.stop_jobs]
        report = self._report(env)
        return [(env.tenant, report)] if report is not None else []

    def _report(self, env: Envelope) -> w.Command | None:
        event = env.data
        known = self.tasks.get((env.tenant, getattr(event, "job_id", "")))
        if known is None or not isinstance(event, j.Event):
            return None
        workflow, task, attempt = known
        if (env.tenant, workflow) in self.ended:
            return None
        ids = {"workflow_id": workflow, "task": task, "attempt": attempt}
        if isinstance(event, j.JobRunning):
            return w.RecordTaskStarted(**ids)
        exit_code = _exit_code(event)
        return None if exit_code is None else w.RecordTaskExited(**ids, exit_code=exit_code)


def _exit_code(event: j.Event) -> int | None:
    match event:
        case j.JobSucceeded():
            return 0
        case j.JobFailed(exit_code=code):
            return code if code is not None and code != 0 else 1
        case j.JobPreempted():
            return EXIT_PREEMPTED
        case j.JobCancelled():
            return EXIT_CANCELLED
        case j.JobRejected():
            return EXIT_REJECTED
    return None
