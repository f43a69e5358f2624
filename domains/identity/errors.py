"""The identity domain's errors: what a rejected identity command is dead-lettered with.

Codes are the shared ones the gateway maps to HTTP (`invalid` 422, `not_found`
404, `conflict` 409, `illegal_transition` 409), plus `already_bootstrapped`
(409), which the bootstrap contract names explicitly.
"""

from __future__ import annotations

from domains.errors import Conflict, DomainError, IllegalTransition, NotFound


class IdentityError(DomainError):
    """A malformed identity request (e.g. a token expiry out of range); code `invalid`."""


class AlreadyExists(Conflict):
    """A tenant, user or token id that is taken."""


class UnknownIdentity(NotFound):
    """A user or token that was never created in this tenant."""


class UserDisabled(IllegalTransition):
    """A disabled user's role cannot change (disabling is final)."""


class AlreadyBootstrapped(Conflict):
    code = "already_bootstrapped"
