"""The root of every domain's errors: what the gateway maps to 4xx and consumers dead-letter."""

from __future__ import annotations


class DomainError(Exception):
    """An invalid request. `code` is stable and machine-readable; `field` is the path of the problem."""

    code = "invalid"

    def __init__(self, message: str, *, field: str = "", code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(DomainError):
    code = "not_found"


class IllegalTransition(DomainError):
    code = "illegal_transition"


class Conflict(DomainError):
    code = "conflict"
