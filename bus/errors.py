"""The bus's typed errors: what a caller can tell apart and act on."""

from __future__ import annotations


class BusError(Exception):
    """Base class; `str()` is a one-line message fit for a user."""


class ConfigError(BusError):
    """The configuration is invalid (bad value, unknown key, unreadable file)."""


class ServerStartError(BusError):
    """The embedded nats-server could not start (binary missing, port taken, store unwritable)."""


class ConnectError(BusError):
    """No NATS server answered at the configured URL."""


class StreamDrift(BusError):
    """A stream exists with settings other than the expected ones; never changed silently."""

    def __init__(self, stream: str, differences: dict[str, tuple[object, object]]) -> None:
        self.stream = stream
        self.differences = differences
        detail = ", ".join(f"{k}: expected {e!r}, found {f!r}" for k, (e, f) in sorted(differences.items()))
        super().__init__(f"stream {stream} drifted from its expected config ({detail})")


class PublishError(BusError):
    """The server rejected a publish (other than a concurrency conflict)."""

    def __init__(self, message: str, *, code: int | None = None, err_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.err_code = err_code


class ConcurrencyConflict(PublishError):
    """The aggregate moved on since it was loaded (err 10071/10164): reload, decide again."""

    def __init__(self, subject_filter: str, expected: int, actual: int | None, err_code: int) -> None:
        super().__init__(
            f"concurrency conflict on {subject_filter}: expected last sequence {expected}, found {actual}",
            code=400,
            err_code=err_code,
        )
        self.subject_filter = subject_filter
        self.expected = expected
        self.actual = actual


class PublishOutcomeUnknown(BusError):
    """No PubAck arrived and the outcome could not be read back; the write may or may not exist."""


class DecodeRejected(BusError):
    """A message on the bus could not be decoded; it is dead-lettered with this reason."""
