"""Billing consumer settings: billing period, grace before finalizing, batching, timers.

Table `[billing]` of the configuration file and TESSERA_BILLING_<NAME> (all
optional): period (monthly | weekly | daily), grace_s (seconds after period
end before the invoice is finalized; default 3 days), batch (usage messages
per atomic write; default 500), poll_s, tick_s, restart_delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bus.config import load_table
from bus.errors import ConfigError
from domains.billing.periods import KINDS


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BillingSettings:
    name: str = "billing"  # tracking record trk.<name>; the DLQ subject dlq.USAGE.<name>
    period: str = "monthly"
    grace_s: float = 3 * 86400.0
    batch: int = 500
    poll_s: float = 0.2  # idle wait for new usage
    tick_s: float = 5.0  # period close and budget re-check
    restart_delay: float = 1.0
    clock: Callable[[], datetime] = field(default=_utcnow, compare=False)

    def __post_init__(self) -> None:
        if self.period not in KINDS:
            raise ConfigError(f"billing period: must be one of {', '.join(KINDS)}, got {self.period!r}")
        if self.grace_s < 0 or self.batch < 1:
            raise ConfigError("billing: grace_s must be >= 0 and batch >= 1")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides) -> BillingSettings:
        """Table `[billing]` and TESSERA_BILLING_<NAME> (bus/config.py), then explicit overrides."""
        settings = load_table(cls, "billing", "TESSERA_BILLING_", env, skip=("clock",))
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})
