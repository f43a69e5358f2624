"""Errors of the JetStream recorders, as the eventsourcing library classifies them.

Conflicts (an (originator, version) or tracking id already recorded, a version
not after the stored head) are the library's own `IntegrityError`. Everything
operational is an `OperationalError` subclass; none of them means "not written"
unless it says so.
"""

from __future__ import annotations

from eventsourcing.persistence import InterfaceError, OperationalError


class StoreTimeout(OperationalError, TimeoutError):
    """A read or the whole recorder call did not finish in time."""


class WriteOutcomeUnknown(OperationalError):
    """No PubAck arrived and reading back could not find the write: it may still land."""


class StoreUnavailable(OperationalError):
    """NATS or the stream did not answer (no responders, connection lost, stream missing)."""


class StoreRejected(OperationalError):
    """JetStream refused the write for a reason other than a conflict (limits, batch size, ...)."""


class StoreClosed(InterfaceError):
    """The recorder (its connection and loop) has been closed."""
