"""Bootstrap reactor: the bootstrap's admin and token recorded on their own aggregates.

BootstrapPlatform is decided on the `platform` aggregate (that is what makes it
once-only). `PlatformBootstrapped` under `_platform` is answered with
CreateUser(admin, role platform-admin) and IssueToken(the same token id and
hash, name "bootstrap") for `_platform`, so the admin user and the bootstrap
token have a `user` and a `token` aggregate like any other: they can be
disabled, re-roled and revoked. The read model already knows both from the
bootstrap event (the admin can log in before this runs); the copies change
nothing there.

Reactions carry ids derived from the event (bus.reactor), so a restart or a
second control plane sends the same commands and they apply once. No view:
`resume_only`, it follows EVT after its tracked position.
"""

from __future__ import annotations

from domains.identity import PLATFORM_ADMIN
from schemas import PLATFORM_TENANT, Command, Envelope
from schemas import identity as i

BOOTSTRAP_TOKEN_NAME = "bootstrap"


class IdentityBootstrap:
    name = "identity-bootstrap"
    resume_only = True

    def apply(self, event: Envelope) -> None:
        return None

    def react(self, event: Envelope) -> list[tuple[str, Command]]:
        e = event.data
        if not isinstance(e, i.PlatformBootstrapped) or event.tenant != PLATFORM_TENANT:
            return []
        return [
            (PLATFORM_TENANT, i.CreateUser(user_id=e.admin_user_id, name=e.admin_user_id, role=PLATFORM_ADMIN)),
            (PLATFORM_TENANT, i.IssueToken(token_id=e.token_id, user_id=e.admin_user_id, name=BOOTSTRAP_TOKEN_NAME,
                                           token_hash=e.token_hash, expires_at=e.expires_at)),
        ]
