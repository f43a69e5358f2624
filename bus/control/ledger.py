"""What policy needs to know about every tenant, rebuilt from EVT: quotas, GPUs held, GPU-hours used.

`Ledger.apply(envelope)` folds in:
- `QuotaSet` -> the tenant's `QuotaState` (keyed by the payload's tenant);
- `BudgetSet` / `BudgetThresholdCrossed` (billing) -> the tenant's `SpendBudget`;
- `NodeRegistered` / `NodeRemoved` of the cluster aggregate -> node -> (pool, GPU model);
- `JobPlaced` -> GPUs held per (pool, GPU model) go up (`TenantUsage.with_allocated`);
- release (requeued, succeeded, failed, cancelled, preempted) -> they go down, and
  the held GPU-hours (envelope time of the release minus that of the placement)
  count against the budget period in force at the release, when the tenant has a
  budget. A long job therefore counts against its budget when it releases; the
  exact per-interval figures are metering's (USAGE), this is admission's estimate.

Deterministic: a pure function of the events it was given, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domains.policy import QuotaState, SpendBudget, TenantUsage, period_key
from domains.registry import CLUSTER
from schemas import Envelope
from schemas import jobs as j
from schemas.billing import BudgetSet, BudgetThresholdCrossed
from schemas.fleet import NodeRegistered, NodeRemoved, node_id
from schemas.policy import QuotaSet

RELEASES = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)
UNKNOWN_POOL = "default"


@dataclass(frozen=True)
class Holding:
    tenant: str
    held: tuple[tuple[str, str, int], ...]  # (pool, model, gpus) per placement
    since: datetime


class Ledger:
    def __init__(self) -> None:
        self.quotas: dict[str, QuotaState] = {}
        self.usage: dict[str, TenantUsage] = {}
        self.nodes: dict[str, tuple[str, str]] = {}  # node id -> (pool, gpu model)
        self.holdings: dict[tuple[str, str], Holding] = {}  # (tenant, job) -> what it holds
        self.spend: dict[str, SpendBudget] = {}  # billing budgets: mode, revision, 100% crossing

    def quota(self, tenant: str) -> QuotaState:
        return self.quotas.get(tenant) or QuotaState(tenant=tenant)

    def usage_of(self, tenant: str) -> TenantUsage:
        return self.usage.get(tenant) or TenantUsage()

    def pool_of(self, cluster: str, node: str) -> str:
        return self.nodes.get(node_id(cluster, node), (UNKNOWN_POOL, ""))[0]

    def apply(self, env: Envelope) -> None:
        event = env.data
        if isinstance(event, (BudgetSet, BudgetThresholdCrossed)):
            self._spend(env, event)
        elif isinstance(event, QuotaSet):
            self.quotas[event.tenant] = QuotaState(tenant=event.tenant, limits=event.limits)
        elif isinstance(event, NodeRegistered) and env.aggregate == CLUSTER:
            self.nodes[node_id(event.cluster, event.node.name)] = (event.node.pool, event.node.gpu_model or "")
        elif isinstance(event, NodeRemoved) and env.aggregate == CLUSTER:
            self.nodes.pop(node_id(event.cluster, event.node), None)
        elif isinstance(event, j.JobPlaced):
            self._place(env, event)
        elif isinstance(event, RELEASES):
            self._release(env, event.job_id)

    def spend_of(self, tenant: str) -> SpendBudget | None:
        return self.spend.get(tenant)

    def _spend(self, env: Envelope, event) -> None:
        spend = self.spend.get(env.tenant) or SpendBudget()
        if isinstance(event, BudgetSet):
            self.spend[env.tenant] = spend.with_budget(event, env.version or 0)
        else:
            self.spend[env.tenant] = spend.with_crossing(event)

    def _place(self, env: Envelope, event: j.JobPlaced) -> None:
        key = (env.tenant, event.job_id)
        if key in self.holdings:
            return  # placed again without a release in between: a redelivered copy
        held = []
        for p in event.placements:
            pool, model = self.nodes.get(node_id(p.cluster, p.node), (UNKNOWN_POOL, ""))
            held.append((pool, event.gpu_model or model, len(p.gpu_indices)))
        usage = self.usage_of(env.tenant)
        for pool, model, gpus in held:
            usage = usage.with_allocated(pool, model, gpus)
        self.usage[env.tenant] = usage
        self.holdings[key] = Holding(env.tenant, tuple(held), env.time)

    def _release(self, env: Envelope, job_id: str) -> None:
        holding = self.holdings.pop((env.tenant, job_id), None)
        if holding is None:
            return
        usage = self.usage_of(env.tenant)
        for pool, model, gpus in holding.held:
            usage = usage.with_allocated(pool, model, -gpus)
        limits = self.quota(env.tenant).limits
        if limits is not None and limits.budget is not None:
            gpus = sum(g for _, _, g in holding.held)
            hours = Decimal(gpus) * Decimal((env.time - holding.since).total_seconds()) / 3600
            usage = usage.with_consumed(period_key(env.time, limits.budget.period), hours)
        self.usage[env.tenant] = usage
