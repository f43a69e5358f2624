"""Admission reactor: every submitted job is admitted or rejected by policy.

On `JobSubmitted` it calls `domains.policy.admit(quota, usage, spec, now=event time)`
with the tenant's quota and usage from its `Ledger` as of that event:

- `Admit`        -> AdmitJob
- `Wait(reason)` -> AdmitJob as well: the job queues and the placer holds it with
  the same `quota_exceeded` reason until the tenant's other jobs release GPUs
  (the placer re-checks the quota with the concrete pool and model);
- `Reject(reason)` -> RejectJob(reason), e.g. `budget_exhausted{budget=spend, ...}` once the
  tenant's hard billing budget announced 100% for the current period.

The command goes to the job's tenant (the event's). Using the event's time
keeps the decision a function of the log: a rebuilt reactor decides the same.
"""

from __future__ import annotations

from bus.control.ledger import Ledger
from domains.policy import Reject, admit
from schemas import Envelope
from schemas.jobs import AdmitJob, JobSubmitted, RejectJob


class Admission:
    name = "admission"

    def __init__(self) -> None:
        self.ledger = Ledger()

    def apply(self, event: Envelope) -> None:
        self.ledger.apply(event)

    def react(self, event: Envelope):
        submitted = event.data
        if not isinstance(submitted, JobSubmitted):
            return []
        verdict = admit(self.ledger.quota(event.tenant), self.ledger.usage_of(event.tenant), submitted.spec,
                        now=event.time, spend=self.ledger.spend_of(event.tenant))
        if isinstance(verdict, Reject):
            return [(event.tenant, RejectJob(job_id=submitted.job_id, reason=verdict.reason))]
        return [(event.tenant, AdmitJob(job_id=submitted.job_id))]
