"""Identity: tenants, users and roles, bearer tokens, and the one-time platform bootstrap.

    state.py        the four aggregates' states (tenant, user, token, platform) and `evolve`
    decide.py       `decide(state, command, *, now)`: lifecycle rules, token expiry
    permissions.py  roles x actions (`allowed`), tenant scope, who may grant a role or manage a token
    tokens.py       `tsk_<token_id>_<secret>`: parse, hash (sha256 hex), constant-time match
    keys.py         `tsk-live-<key_id>_<secret>`: the API key format (same hash and match)
    apikeys.py      the `apikey` aggregate (inference clients): state, evolve, decide
    keybudget.py    which 50/80/100% budget thresholds a key's spend reached (`due`)
    principal.py    `Principal`: who a valid token resolves to; `KeyPrincipal`: a valid API key
    errors.py       IdentityError and the conflict/not-found cases

Pure: no I/O, no clock, no randomness (token secrets are drawn at the edge,
gateway/tokens.py). The read model is projections/identity.py.
"""

from domains.identity.apikeys import ApiKeyState
from domains.identity.decide import MAX_TOKEN_LIFETIME, decide
from domains.identity.principal import PLATFORM_ADMIN, KeyPrincipal, Principal
from domains.identity.state import (
    PlatformState,
    TenantState,
    TokenState,
    UserState,
    evolve,
    fold,
)

PLATFORM_ID = "identity"  # the platform aggregate's one id

__all__ = [
    "MAX_TOKEN_LIFETIME", "PLATFORM_ADMIN", "PLATFORM_ID", "ApiKeyState", "KeyPrincipal", "PlatformState",
    "Principal", "TenantState", "TokenState", "UserState", "decide", "evolve", "fold",
]
