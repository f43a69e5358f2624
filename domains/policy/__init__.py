"""Policy: tenant quotas and admission, and the failure policy for lost nodes.

    state.py / decide.py   the `quota` aggregate (SetQuota -> QuotaSet)
    usage.py               what a tenant holds and consumed; budget periods
    quota.py               concurrent-GPU limits with `*` wildcards
    admission.py           admit(quota, usage, spec, *, now, spend) -> Admit | Wait | Reject
    spend.py               hard spend budgets (billing) at 100% block new GPU work
    failure.py             on_node_lost(job, node) -> "reschedule" | "fail"
    errors.py              PolicyError and subclasses
"""

from domains.policy.admission import Admit, Reject, Verdict, Wait, admit
from domains.policy.decide import decide
from domains.policy.failure import on_node_lost
from domains.policy.quota import quota_block
from domains.policy.spend import SpendBudget, spend_block
from domains.policy.state import QuotaState, evolve, fold
from domains.policy.usage import TenantUsage, period_key

__all__ = [
    "Admit",
    "QuotaState",
    "Reject",
    "SpendBudget",
    "TenantUsage",
    "Verdict",
    "Wait",
    "admit",
    "decide",
    "evolve",
    "fold",
    "on_node_lost",
    "period_key",
    "quota_block",
    "spend_block",
]
