"""The policy domain's errors: invalid quota commands and misuse of the failure policy."""

from __future__ import annotations

from domains.errors import Conflict, DomainError


class PolicyError(DomainError):
    code = "policy_invalid"


class WrongQuotaTenant(Conflict):
    """A `SetQuota` for one tenant routed to another tenant's `quota` aggregate."""

    code = "wrong_quota_tenant"


class JobNotOnNode(PolicyError):
    """The failure policy was asked about a node the job holds no placement on."""

    code = "job_not_on_node"
