"""Identity: tenants, users with roles, bearer tokens, and the one-time platform bootstrap.

Aggregates (subject `evt.<tenant>.<aggregate>.<id>.<event>`):

    tenant    id = tenant name    under `_platform`   CreateTenant -> TenantCreated
    user      id = user_id        under its tenant    CreateUser, ChangeRole, DisableUser
    token     id = token_id       under its tenant    IssueToken, RevokeToken
    platform  id = "identity"     under `_platform`   BootstrapPlatform -> PlatformBootstrapped (once)
    apikey    id = key_id         under its tenant    CreateApiKey, RevokeApiKey, ChangeApiKeyLimits/Budget,
                                                      ReportApiKeySpend (the proxy) -> ApiKeyBudgetThresholdCrossed

Commands travel under the tenant they act in (`cmd.<tenant>.identity.<name>`);
CreateTenant and BootstrapPlatform under `_platform`.

A token is never on the log: the edge shows `tsk_<token_id>_<secret>` once and
sends only `token_hash` = sha256(secret) as lowercase hex. `token_id` is 12
url-safe base64 characters (it is also the token aggregate's id). Tokens are
one credential kind; API keys (inference clients) are another, with their own
aggregate and events: `tsk-live-<key_id>_<secret>` (domains/identity/apikeys.py),
likewise only `key_hash` = sha256(secret) on the log. A key belongs to its
tenant (not to a user): `allowed_models` (empty = every model), an optional
expiry, optional per-minute limits (`rpm` requests, `tpm` tokens; None =
unlimited) and an optional `budget` (exact decimal, the currency of the rate
card; None = unlimited). The budget's revision is 1 at creation and + 1 with
each ApiKeyBudgetChanged; budget alerts (50/80/100%) are announced once per
threshold per revision.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from schemas.base import Command, Event
from schemas.billing import BudgetMode
from schemas.metering import DecimalString
from schemas.metering import ModelName as _AnyModelName
from schemas.values import Token

Role = Literal["platform-admin", "tenant-admin", "member", "viewer"]
ROLES: tuple[str, ...] = ("platform-admin", "tenant-admin", "member", "viewer")

TenantName = Annotated[str, StringConstraints(pattern=r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$"), Field(
    description="lower-case slug, 1-63 chars: a-z, 0-9 and '-', starting with a letter, not ending with '-' "
                "(a NATS subject token; '_platform' is reserved and cannot be created)")]
UserId = Annotated[Token, Field(description="subject-safe id: A-Z a-z 0-9 '_' '-', 1-128 chars")]
TokenId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{12}$"), Field(
    description="12 url-safe base64 characters, drawn at random by the edge")]
TokenHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"), Field(
    description="sha256 of the token's secret, lowercase hex; the secret itself is never sent")]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
TokenName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class CreateTenant(Command):
    TYPE = "tessera.identity.create_tenant.v1"
    tenant: TenantName
    display_name: DisplayName


class TenantCreated(Event):
    TYPE = "tessera.identity.tenant_created.v1"
    tenant: TenantName
    display_name: DisplayName


class CreateUser(Command):
    TYPE = "tessera.identity.create_user.v1"
    user_id: UserId
    name: DisplayName
    role: Role


class UserCreated(Event):
    TYPE = "tessera.identity.user_created.v1"
    user_id: UserId
    name: DisplayName
    role: Role


class ChangeRole(Command):
    TYPE = "tessera.identity.change_role.v1"
    user_id: UserId
    role: Role


class RoleChanged(Event):
    TYPE = "tessera.identity.role_changed.v1"
    user_id: UserId
    role: Role
    previous: Role


class DisableUser(Command):
    TYPE = "tessera.identity.disable_user.v1"
    user_id: UserId


class UserDisabled(Event):
    TYPE = "tessera.identity.user_disabled.v1"
    user_id: UserId


class IssueToken(Command):
    TYPE = "tessera.identity.issue_token.v1"
    token_id: TokenId
    user_id: UserId
    name: TokenName
    token_hash: TokenHash
    expires_at: AwareDatetime


class TokenIssued(Event):
    TYPE = "tessera.identity.token_issued.v1"
    token_id: TokenId
    user_id: UserId
    name: TokenName
    token_hash: TokenHash
    expires_at: AwareDatetime


class RevokeToken(Command):
    TYPE = "tessera.identity.revoke_token.v1"
    token_id: TokenId


class TokenRevoked(Event):
    TYPE = "tessera.identity.token_revoked.v1"
    token_id: TokenId
    user_id: UserId


class BootstrapPlatform(Command):
    TYPE = "tessera.identity.bootstrap_platform.v1"
    admin_user_id: UserId
    token_id: TokenId
    token_hash: TokenHash
    expires_at: AwareDatetime


class PlatformBootstrapped(Event):
    """The `_platform` tenant, its first user (role platform-admin) and that user's first token."""

    TYPE = "tessera.identity.platform_bootstrapped.v1"
    admin_user_id: UserId
    token_id: TokenId
    token_hash: TokenHash
    expires_at: AwareDatetime


# --- API keys (inference clients) ---------------------------------------------------------------

ApiKeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ModelName = Annotated[_AnyModelName, Field(description="a model name as clients request it")]
PerMinute = Annotated[int, Field(ge=1, le=10_000_000_000)]


class CreateApiKey(Command):
    TYPE = "tessera.identity.create_api_key.v1"
    key_id: TokenId
    name: ApiKeyName
    key_hash: TokenHash
    allowed_models: list[ModelName] = Field(default_factory=list, max_length=1000)  # empty: every model
    expires_at: AwareDatetime | None = None  # None: does not expire
    rpm: PerMinute | None = None  # requests per minute; None: unlimited
    tpm: PerMinute | None = None  # tokens (prompt + completion) per minute; None: unlimited
    budget: DecimalString | None = None  # spend limit; None: unlimited
    budget_mode: BudgetMode = "hard"  # hard: the proxy refuses past the budget (402); soft: alerts only


class ApiKeyCreated(Event):
    TYPE = "tessera.identity.api_key_created.v1"
    key_id: TokenId
    name: ApiKeyName
    key_hash: TokenHash
    allowed_models: list[ModelName] = Field(default_factory=list)
    expires_at: AwareDatetime | None = None
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None
    budget: DecimalString | None = None
    budget_mode: BudgetMode = "hard"


class RevokeApiKey(Command):
    TYPE = "tessera.identity.revoke_api_key.v1"
    key_id: TokenId


class ApiKeyRevoked(Event):
    TYPE = "tessera.identity.api_key_revoked.v1"
    key_id: TokenId


class ChangeApiKeyLimits(Command):
    """Replace both per-minute limits (None = unlimited)."""

    TYPE = "tessera.identity.change_api_key_limits.v1"
    key_id: TokenId
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None


class ApiKeyLimitsChanged(Event):
    TYPE = "tessera.identity.api_key_limits_changed.v1"
    key_id: TokenId
    rpm: PerMinute | None = None
    tpm: PerMinute | None = None


class ChangeApiKeyBudget(Command):
    TYPE = "tessera.identity.change_api_key_budget.v1"
    key_id: TokenId
    budget: DecimalString | None = None  # None: unlimited
    budget_mode: BudgetMode = "hard"


class ApiKeyBudgetChanged(Event):
    TYPE = "tessera.identity.api_key_budget_changed.v1"
    key_id: TokenId
    budget: DecimalString | None = None
    previous: DecimalString | None = None
    budget_mode: BudgetMode = "hard"


class ReportApiKeySpend(Command):
    """What a key has spent so far (the proxies' shared spend counter), sent by a proxy when a budget
    threshold may be crossed. Decides the threshold alerts not announced yet for `budget_revision`."""

    TYPE = "tessera.identity.report_api_key_spend.v1"
    key_id: TokenId
    spent: DecimalString
    budget_revision: Annotated[int, Field(ge=1)]  # the budget the reporter measured against


class ApiKeyBudgetThresholdCrossed(Event):
    """The key's spend reached `threshold`% of its budget: once per threshold per budget revision."""

    TYPE = "tessera.identity.api_key_budget_threshold_crossed.v1"
    key_id: TokenId
    threshold: Literal[50, 80, 100]
    spent: DecimalString
    limit: DecimalString
    budget_revision: Annotated[int, Field(ge=1)]
