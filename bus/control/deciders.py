"""One `Decider` per aggregate: the pure domains bound to the commands they decide.

    job        id = job_id          domains.scheduling (folded with `evolve_envelope`: running_since)
    workflow   id = workflow_id     domains.scheduling.workflow
    cluster    id = cluster name    domains.registry (OnboardCluster, AddNode, RemoveNode)
    node       id = cluster--node   domains.registry (cordon, drain, heartbeat, lost)
    quota      id = SetQuota.tenant domains.policy
    ratecard   id = "default"       domains.metering (platform tenant)
    tenant     id = tenant name     domains.identity (platform tenant)
    user       id = user_id         domains.identity (under its tenant)
    token      id = token_id        domains.identity (under its tenant)
    platform   id = "identity"      domains.identity: the one-time bootstrap (platform tenant)
    apikey     id = key_id          domains.identity.apikeys (under its tenant)
    deployment id = deployment_id   domains.inference (under its tenant)
    invoice    id = invoice_id      domains.billing.invoice: VoidInvoice (under its tenant)
    billing    id = tenant          domains.billing.account: credits, budget (under its tenant)

Registry commands name their aggregate through `routing.target`; a Decider has
one fixed aggregate name, so there is one Decider per registry aggregate, each
taking the commands `target` sends to it.

The quota adapter: `QuotaState` carries its tenant, but a Decider's initial
state is fixed, so the loaded state is given the aggregate's tenant (= the
command's `tenant`, which is also the aggregate id) before deciding. Who may
set a quota is the gateway's check, not this one's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bus.handler import Decider
from domains import identity, inference, metering, policy, registry
from domains.billing import account as billing_account
from domains.billing import invoice as billing_invoice
from domains.identity import apikeys
from domains.scheduling import job_decide, job_state
from domains.scheduling import workflow as wf
from schemas import billing as bl
from schemas import fleet as f
from schemas import identity as idn
from schemas import inference as inf
from schemas import jobs as j
from schemas import workflows as w
from schemas.metering import PublishRateCard
from schemas.policy import SetQuota

JOB_COMMANDS = (j.SubmitJob, j.AdmitJob, j.RejectJob, j.PlaceJob, j.MarkUnschedulable, j.ReportJobStarting,
                j.ReportJobRunning, j.ReportJobExited, j.CancelJob, j.PreemptJob, j.ReportNodeLost)
WORKFLOW_COMMANDS = (w.SubmitWorkflow, w.CancelWorkflow, w.RecordTaskStarted, w.RecordTaskExited,
                     w.CheckWorkflowTimeout)
CLUSTER_COMMANDS = (f.OnboardCluster, f.AddNode, f.RemoveNode)
NODE_COMMANDS = (f.CordonNode, f.UncordonNode, f.DrainNode, f.RecordHeartbeat, f.MarkNodeLost)
RATECARD_ID = "default"


def _target_id(command: Any) -> str:
    return registry.target(command)[1]


def _decide_quota(state: policy.QuotaState, command: SetQuota, *, now: datetime) -> list:
    return policy.decide(replace(state, tenant=command.tenant), command, now=now)


JOB = Decider(aggregate="job", initial=job_state.JobState(), evolve=job_state.evolve, decide=job_decide.decide,
              commands=JOB_COMMANDS, aggregate_id=lambda c: c.job_id, evolve_envelope=job_state.evolve_envelope)
WORKFLOW = Decider(aggregate="workflow", initial=wf.WorkflowState(), evolve=wf.evolve, decide=wf.decide,
                   commands=WORKFLOW_COMMANDS, aggregate_id=lambda c: c.workflow_id)
CLUSTER = Decider(aggregate=registry.CLUSTER, initial=registry.ClusterState(), evolve=registry.evolve_cluster,
                  decide=registry.decide_cluster, commands=CLUSTER_COMMANDS, aggregate_id=_target_id)
NODE = Decider(aggregate=registry.NODE, initial=registry.NodeState(), evolve=registry.evolve_node,
               decide=registry.decide_node, commands=NODE_COMMANDS, aggregate_id=_target_id)
QUOTA = Decider(aggregate="quota", initial=policy.QuotaState(tenant=""), evolve=policy.evolve,
                decide=_decide_quota, commands=(SetQuota,), aggregate_id=lambda c: c.tenant)
RATECARD = Decider(aggregate="ratecard", initial=metering.RateCardState(), evolve=metering.evolve,
                   decide=metering.decide, commands=(PublishRateCard,), aggregate_id=lambda c: RATECARD_ID)

TENANT = Decider(aggregate="tenant", initial=identity.TenantState(), evolve=identity.evolve,
                 decide=identity.decide, commands=(idn.CreateTenant,), aggregate_id=lambda c: c.tenant)
USER = Decider(aggregate="user", initial=identity.UserState(), evolve=identity.evolve, decide=identity.decide,
               commands=(idn.CreateUser, idn.ChangeRole, idn.DisableUser), aggregate_id=lambda c: c.user_id)
TOKEN = Decider(aggregate="token", initial=identity.TokenState(), evolve=identity.evolve, decide=identity.decide,
                commands=(idn.IssueToken, idn.RevokeToken), aggregate_id=lambda c: c.token_id)
PLATFORM = Decider(aggregate="platform", initial=identity.PlatformState(), evolve=identity.evolve,
                   decide=identity.decide, commands=(idn.BootstrapPlatform,),
                   aggregate_id=lambda c: identity.PLATFORM_ID)


APIKEY = Decider(aggregate="apikey", initial=apikeys.ApiKeyState(), evolve=apikeys.evolve, decide=apikeys.decide,
                 commands=(idn.CreateApiKey, idn.RevokeApiKey, idn.ChangeApiKeyLimits, idn.ChangeApiKeyBudget,
                           idn.ReportApiKeySpend),
                 aggregate_id=lambda c: c.key_id)
DEPLOYMENT = Decider(aggregate="deployment", initial=inference.DeploymentState(), evolve=inference.evolve,
                     decide=inference.decide, aggregate_id=lambda c: c.deployment_id,
                     commands=(inf.CreateDeployment, inf.ScaleDeployment, inf.StopDeployment, inf.RecordReplicaState,
                               inf.ReportReplicaReady, inf.ReportReplicaLost))


def _decide_account(state: billing_account.AccountState, command: Any, *, now: datetime) -> list:
    return billing_account.decide(replace(state, tenant=command.tenant), command, now=now)


# The billing consumer (bus/billing) writes invoices' accruals and finalization itself; only voiding
# comes through commands. Credits and budgets are the `billing` account aggregate (id = tenant).
INVOICE = Decider(aggregate="invoice", initial=billing_invoice.InvoiceState(), evolve=billing_invoice.evolve,
                  decide=billing_invoice.decide, commands=(bl.VoidInvoice,), aggregate_id=lambda c: c.invoice_id)
BILLING = Decider(aggregate="billing", initial=billing_account.AccountState(), evolve=billing_account.evolve,
                  decide=_decide_account, commands=(bl.GrantCredit, bl.RevokeCredit, bl.SetBudget),
                  aggregate_id=lambda c: c.tenant, evolve_envelope=billing_account.evolve_envelope)


def all_deciders() -> list[Decider[Any]]:
    return [JOB, WORKFLOW, CLUSTER, NODE, QUOTA, RATECARD, TENANT, USER, TOKEN, PLATFORM, APIKEY, DEPLOYMENT,
            INVOICE, BILLING]
