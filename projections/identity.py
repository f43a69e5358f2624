"""The identity read model: tenants, users, tokens and API keys for the gateway, `authenticate(_key)`.

Fed by projections.runner like the registry models (name "identity",
aggregates tenant/user/token/platform): `apply(env, seq)` is a no-op at or below
the position and otherwise applies the event and moves the position in one
synchronous step; `state_hash()` is equal iff two models are (T7).

`authenticate(token_str, now) -> Principal | None` is O(1): one dict lookup by
token id, one sha256, a constant-time hash comparison (hmac.compare_digest).
None for a malformed or unknown token, a wrong secret, a revoked or expired
token, a user that is unknown or disabled, and a "platform-admin" outside
`_platform` (defence in depth: the domain cannot see the tenant, see
domains/identity/decide.py). A revocation is effective the moment the
`TokenRevoked` event is applied. Only hashes are kept; a plain token is
neither stored nor logged, and views (`token`, `tokens`) carry no hash.

Trust in the envelope's tenant: tenants and the bootstrap count only under
`_platform`. The bootstrap creates the `_platform` tenant, its admin user and
that user's token at once (the admin can log in as soon as it is applied);
the control plane's bootstrap reactor later records the same user and token on
their own aggregates, and those copies change nothing here (first one wins).
Token ids are global (the token string has no tenant): a second tenant's
TokenIssued with a taken id gets a view but never authenticates.

API keys (aggregate `apikey`): `authenticate_key(key_str, now) -> KeyPrincipal
| None` is O(1) the same way (lookup by key id, sha256, constant-time compare,
the principal prebuilt per key). None for a malformed or unknown key, a wrong
secret, a revoked or expired key. Revocation and limit/budget changes are
effective the moment their event is applied (the principal is rebuilt then).
Views (`api_key`, `api_keys`) carry no hash. Key ids are global like token ids.
A key's view keeps its budget revision (1 at creation, + 1 per budget change)
and the budget alerts announced for that revision (`budget_alerts`, emptied
by a budget change; an alert of another revision is ignored); the principal
carries both so the proxy reports each threshold once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import orjson

from domains.identity import PLATFORM_ADMIN, KeyPrincipal, Principal, keys, tokens
from projections.registry.base import updated
from projections.registry.store import IndexedStore, Page
from projections.tracking import Batch
from schemas import PLATFORM_TENANT, Envelope
from schemas import identity as i


@dataclass(frozen=True, slots=True)
class TenantView:
    name: str
    display_name: str
    created_at: datetime
    created_seq: int


@dataclass(frozen=True, slots=True)
class UserView:
    tenant: str
    user_id: str
    name: str
    role: str
    disabled: bool
    created_at: datetime
    updated_seq: int


@dataclass(frozen=True, slots=True)
class TokenView:
    tenant: str
    token_id: str
    user_id: str
    name: str
    expires_at: datetime
    revoked: bool
    created_at: datetime
    created_seq: int

    def status(self, now: datetime) -> str:
        return "revoked" if self.revoked else "expired" if self.expires_at <= now else "active"


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    threshold: int
    spent: Decimal
    limit: Decimal
    time: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    tenant: str
    key_id: str
    name: str
    allowed_models: tuple[str, ...]  # empty: every model
    expires_at: datetime | None
    rpm: int | None
    tpm: int | None
    budget: Decimal | None
    revoked: bool
    created_by: str  # the actor of the command that created it
    created_at: datetime
    created_seq: int
    updated_seq: int
    budget_revision: int = 1
    budget_alerts: tuple[BudgetAlert, ...] = ()  # announced for the current revision, in order
    budget_mode: str = "hard"  # hard: refused past the budget; soft: alerts only

    def status(self, now: datetime) -> str:
        if self.revoked:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"

    def principal(self) -> KeyPrincipal:
        return KeyPrincipal(tenant=self.tenant, key_id=self.key_id, name=self.name,
                            allowed_models=frozenset(self.allowed_models), rpm=self.rpm, tpm=self.tpm,
                            budget=self.budget, expires_at=self.expires_at, budget_revision=self.budget_revision,
                            budget_alerts=frozenset(a.threshold for a in self.budget_alerts),
                            budget_mode=self.budget_mode)


@dataclass(frozen=True, slots=True)
class _KeyCredential:
    tenant: str
    key_hash: str
    principal: KeyPrincipal


@dataclass(frozen=True, slots=True)
class _Credential:
    tenant: str
    token_hash: str


def _key(tenant: str, id: str) -> str:
    return f"{tenant}/{id}"  # neither part can contain "/" (subject tokens)


class IdentityModel:
    name = "identity"
    aggregates = frozenset({"tenant", "user", "token", "platform", "apikey"})

    def __init__(self) -> None:
        self._tenants: IndexedStore[TenantView] = IndexedStore(key=lambda v: v.name, indexes={},
                                                               sorts={"name": lambda v: ()})
        self._users: IndexedStore[UserView] = IndexedStore(
            key=lambda v: _key(v.tenant, v.user_id), sorts={"user_id": lambda v: ()},
            indexes={"tenant": lambda v: (v.tenant,), "role": lambda v: (v.role,)})
        self._tokens: IndexedStore[TokenView] = IndexedStore(
            key=lambda v: _key(v.tenant, v.token_id), sorts={"created": lambda v: (v.created_seq,)},
            indexes={"tenant": lambda v: (v.tenant,), "user": lambda v: (_key(v.tenant, v.user_id),)})
        self._credentials: dict[str, _Credential] = {}  # token id -> where it lives and its hash
        self._apikeys: IndexedStore[ApiKeyView] = IndexedStore(
            key=lambda v: _key(v.tenant, v.key_id), sorts={"created": lambda v: (v.created_seq,)},
            indexes={"tenant": lambda v: (v.tenant,)})
        self._key_credentials: dict[str, _KeyCredential] = {}  # key id -> tenant, hash, principal
        self._position = 0
        self.bootstrapped = False

    # -- projection protocol ------------------------------------------------------------------------
    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def apply(self, env: Envelope, seq: int) -> bool:
        if seq <= self._position:
            return False
        handler = self.handlers.get(type(env.data))
        if handler is not None:
            handler(self, env, seq)
        self._position = seq
        return True

    def apply_batch(self, batch: Batch) -> int:
        return sum(self.apply(env, seq) for env, seq in batch)

    def bulk(self, on: bool) -> None:
        for store in (self._tenants, self._users, self._tokens, self._apikeys):
            store.defer() if on else store.resume()

    def state_hash(self) -> str:
        digest = hashlib.sha256(f"{self.name}@{self._position}/{self.bootstrapped}".encode())
        for store in (self._tenants, self._users, self._tokens):
            for id in sorted(store.ids()):
                digest.update(orjson.dumps(store.get(id)))
        for token_id in sorted(self._credentials):
            digest.update(orjson.dumps([token_id, self._credentials[token_id]]))
        for id in sorted(self._apikeys.ids()):
            digest.update(orjson.dumps(self._apikeys.get(id), default=str))
        for key_id in sorted(self._key_credentials):
            credential = self._key_credentials[key_id]
            digest.update(orjson.dumps([key_id, credential.tenant, credential.key_hash]))
        return digest.hexdigest()

    # -- reads ----------------------------------------------------------------------------------
    def authenticate(self, token_str: str, now: datetime) -> Principal | None:
        try:
            token_id, secret = tokens.parse(token_str)
        except tokens.MalformedToken:
            return None
        credential = self._credentials.get(token_id)
        if credential is None or not tokens.matches(secret, credential.token_hash):
            return None
        token = self._tokens.get(_key(credential.tenant, token_id))
        if token is None or token.revoked or token.expires_at <= now:
            return None
        user = self._users.get(_key(token.tenant, token.user_id))
        if user is None or user.disabled or (user.role == PLATFORM_ADMIN and user.tenant != PLATFORM_TENANT):
            return None
        return Principal(tenant=user.tenant, user_id=user.user_id, role=user.role, token_id=token_id)

    def authenticate_key(self, key_str: str, now: datetime) -> KeyPrincipal | None:
        try:
            key_id, secret = keys.parse(key_str)
        except keys.MalformedKey:
            return None
        credential = self._key_credentials.get(key_id)
        if credential is None or not keys.matches(secret, credential.key_hash):
            return None
        expires_at = credential.principal.expires_at
        return None if expires_at is not None and expires_at <= now else credential.principal

    def api_key(self, tenant: str, key_id: str) -> ApiKeyView | None:
        return self._apikeys.get(_key(tenant, key_id))

    def api_keys(self, tenant: str, *, page_size: int = 100, cursor: str | None = None) -> Page[ApiKeyView]:
        return self._apikeys.list({"tenant": tenant}, sort="created", page_size=page_size, cursor=cursor)

    def tenant(self, name: str) -> TenantView | None:
        return self._tenants.get(name)

    def tenants(self, *, page_size: int = 100, cursor: str | None = None) -> Page[TenantView]:
        return self._tenants.list({}, sort="name", page_size=page_size, cursor=cursor)

    def user(self, tenant: str, user_id: str) -> UserView | None:
        return self._users.get(_key(tenant, user_id))

    def users(self, tenant: str, *, role: str | None = None, page_size: int = 100,
              cursor: str | None = None) -> Page[UserView]:
        return self._users.list({"tenant": tenant, "role": role}, sort="user_id", page_size=page_size, cursor=cursor)

    def token(self, tenant: str, token_id: str) -> TokenView | None:
        return self._tokens.get(_key(tenant, token_id))

    def tokens(self, tenant: str, user_id: str | None = None, *, page_size: int = 100,
               cursor: str | None = None) -> Page[TokenView]:
        filters = {"tenant": tenant, "user": None if user_id is None else _key(tenant, user_id)}
        return self._tokens.list(filters, sort="created", page_size=page_size, cursor=cursor)

    # -- event handlers -------------------------------------------------------------------------
    def _tenant_created(self, env: Envelope, seq: int) -> None:
        e: i.TenantCreated = env.data  # type: ignore[assignment]
        if env.tenant == PLATFORM_TENANT and self._tenants.get(e.tenant) is None:
            self._tenants.put(TenantView(e.tenant, e.display_name, env.time, seq))

    def _bootstrapped(self, env: Envelope, seq: int) -> None:
        e: i.PlatformBootstrapped = env.data  # type: ignore[assignment]
        if env.tenant != PLATFORM_TENANT or self.bootstrapped:
            return
        self.bootstrapped = True
        if self._tenants.get(PLATFORM_TENANT) is None:
            self._tenants.put(TenantView(PLATFORM_TENANT, "Platform", env.time, seq))
        self._add_user(PLATFORM_TENANT, e.admin_user_id, e.admin_user_id, PLATFORM_ADMIN, env.time, seq)
        self._add_token(PLATFORM_TENANT, e.token_id, e.admin_user_id, "bootstrap", e.token_hash, e.expires_at,
                        env.time, seq)

    def _user_created(self, env: Envelope, seq: int) -> None:
        e: i.UserCreated = env.data  # type: ignore[assignment]
        self._add_user(env.tenant, e.user_id, e.name, e.role, env.time, seq)

    def _role_changed(self, env: Envelope, seq: int) -> None:
        self._update_user(env, seq, role=env.data.role)  # type: ignore[attr-defined]

    def _user_disabled(self, env: Envelope, seq: int) -> None:
        self._update_user(env, seq, disabled=True)

    def _token_issued(self, env: Envelope, seq: int) -> None:
        e: i.TokenIssued = env.data  # type: ignore[assignment]
        self._add_token(env.tenant, e.token_id, e.user_id, e.name, e.token_hash, e.expires_at, env.time, seq)

    def _token_revoked(self, env: Envelope, seq: int) -> None:
        token_id = env.data.token_id  # type: ignore[attr-defined]
        view = self._tokens.get(_key(env.tenant, token_id))
        if view is not None:
            self._tokens.put(updated(view, revoked=True))
        credential = self._credentials.get(token_id)
        if credential is not None and credential.tenant == env.tenant:
            del self._credentials[token_id]

    def _api_key_created(self, env: Envelope, seq: int) -> None:
        e: i.ApiKeyCreated = env.data  # type: ignore[assignment]
        if self._apikeys.get(_key(env.tenant, e.key_id)) is not None:
            return
        view = ApiKeyView(env.tenant, e.key_id, e.name, tuple(e.allowed_models), e.expires_at, e.rpm, e.tpm,
                          e.budget, False, env.actor, env.time, seq, seq, budget_mode=e.budget_mode)
        self._apikeys.put(view)
        self._key_credentials.setdefault(e.key_id, _KeyCredential(env.tenant, e.key_hash, view.principal()))

    def _api_key_revoked(self, env: Envelope, seq: int) -> None:
        key_id = env.data.key_id  # type: ignore[attr-defined]
        self._update_key(env, seq, revoked=True)
        credential = self._key_credentials.get(key_id)
        if credential is not None and credential.tenant == env.tenant:
            del self._key_credentials[key_id]

    def _api_key_limits_changed(self, env: Envelope, seq: int) -> None:
        self._update_key(env, seq, rpm=env.data.rpm, tpm=env.data.tpm)  # type: ignore[attr-defined]

    def _api_key_budget_changed(self, env: Envelope, seq: int) -> None:
        e: i.ApiKeyBudgetChanged = env.data  # type: ignore[assignment]
        view = self._apikeys.get(_key(env.tenant, e.key_id))
        if view is not None:
            self._update_key(env, seq, budget=e.budget, budget_mode=e.budget_mode,
                             budget_revision=view.budget_revision + 1, budget_alerts=())

    def _api_key_budget_crossed(self, env: Envelope, seq: int) -> None:
        e: i.ApiKeyBudgetThresholdCrossed = env.data  # type: ignore[assignment]
        view = self._apikeys.get(_key(env.tenant, e.key_id))
        if view is None or e.budget_revision != view.budget_revision or \
                any(a.threshold == e.threshold for a in view.budget_alerts):
            return
        alert = BudgetAlert(e.threshold, e.spent, e.limit, env.time)
        self._update_key(env, seq, budget_alerts=(*view.budget_alerts, alert))

    def _update_key(self, env: Envelope, seq: int, **changes) -> None:
        key_id = env.data.key_id  # type: ignore[attr-defined]
        view = self._apikeys.get(_key(env.tenant, key_id))
        if view is None:
            return
        view = updated(view, updated_seq=seq, **changes)
        self._apikeys.put(view)
        credential = self._key_credentials.get(key_id)
        if credential is not None and credential.tenant == env.tenant:  # the new limits apply at once
            self._key_credentials[key_id] = _KeyCredential(credential.tenant, credential.key_hash, view.principal())

    def _add_user(self, tenant: str, user_id: str, name: str, role: str, at: datetime, seq: int) -> None:
        if self._users.get(_key(tenant, user_id)) is None:
            self._users.put(UserView(tenant, user_id, name, role, False, at, seq))

    def _update_user(self, env: Envelope, seq: int, **changes) -> None:
        view = self._users.get(_key(env.tenant, env.data.user_id))  # type: ignore[attr-defined]
        if view is not None:
            self._users.put(updated(view, updated_seq=seq, **changes))

    def _add_token(self, tenant: str, token_id: str, user_id: str, name: str, token_hash: str,
                   expires_at: datetime, at: datetime, seq: int) -> None:
        if self._tokens.get(_key(tenant, token_id)) is not None:
            return
        self._tokens.put(TokenView(tenant, token_id, user_id, name, expires_at, False, at, seq))
        self._credentials.setdefault(token_id, _Credential(tenant, token_hash))

    handlers: ClassVar[dict[type, Callable[..., None]]] = {
        i.TenantCreated: _tenant_created, i.PlatformBootstrapped: _bootstrapped, i.UserCreated: _user_created,
        i.RoleChanged: _role_changed, i.UserDisabled: _user_disabled, i.TokenIssued: _token_issued,
        i.TokenRevoked: _token_revoked, i.ApiKeyCreated: _api_key_created, i.ApiKeyRevoked: _api_key_revoked,
        i.ApiKeyLimitsChanged: _api_key_limits_changed, i.ApiKeyBudgetChanged: _api_key_budget_changed,
        i.ApiKeyBudgetThresholdCrossed: _api_key_budget_crossed,
    }
