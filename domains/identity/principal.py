"""Who is calling: the identity a valid bearer token resolves to.

`actor` is what goes into `Envelope.actor` for every command the caller sends.
`is_platform_admin` needs both the role and the `_platform` tenant: a
"platform-admin" role anywhere else grants nothing beyond its own tenant (the
read model refuses such a user outright; this is the second lock).
"""

from __future__ import annotations

from dataclasses import dataclass

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
