"""Who is calling: the identity a valid bearer token (`Principal`) or API key (`KeyPrincipal`) resolves to.

`actor` is what goes into `Envelope.actor` for every command the caller sends.
`is_platform_admin` needs both the role and the `_platform` tenant: a
"platform-admin" role anywhere else grants nothing beyond its own tenant (the
read model refuses such a user outright; this is the second lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from schemas.envelope import PLATFORM_TENANT

PLATFORM_ADMIN = "platform-admin"


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str
    user_id: str
    role: str
    token_id: str

    @property
    def actor(self) -> str:
        return f"user:{self.tenant}/{self.user_id}"

    @property
    def is_platform_admin(self) -> bool:
        return self.role == PLATFORM_ADMIN and self.tenant == PLATFORM_TENANT


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    """An inference client holding a valid API key: its tenant, and the key's scope and limits.

    `allowed_models` empty = every model. `rpm`/`tpm`/`budget` None = unlimited;
    enforcing them (and tracking spend) is the proxy's job. `actor` is
    "apikey:<tenant>/<key_id>", for Envelope.actor and usage records.
    `budget_revision` and `budget_alerts` (thresholds already announced for
    that revision) tell the proxy which budget alerts are still to report;
    `budget_mode` "hard" refuses past the budget, "soft" only alerts.
    """

    tenant: str
    key_id: str
    name: str
    allowed_models: frozenset[str]
    rpm: int | None
    tpm: int | None
    budget: Decimal | None
    expires_at: datetime | None
    budget_revision: int = 1
    budget_alerts: frozenset[int] = frozenset()
    budget_mode: str = "hard"

    @property
    def actor(self) -> str:
        return f"apikey:{self.tenant}/{self.key_id}"

    def allows(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models
