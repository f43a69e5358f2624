"""The control plane's settings: passed in by the composition root, never read at import time.

`ControlSettings.load()` reads table `[control]` of the configuration file and
`TESSERA_CONTROL_<NAME>` variables (bus/config.py; errors name the key).

| setting             | default   | what                                                        |
|---------------------|-----------|-------------------------------------------------------------|
| durable             | control   | the durable command consumer on CMD                         |
| policy              | binpack   | placement policy (binpack, spread)                          |
| sweep_interval      | 15 s      | timeout sweeps                                              |
| meter_tick          | 60 s      | billing of running jobs' closed intervals                   |
| meter_grace         | 60 s      | a tick bills only boundaries at least this far in the past  |
| metering_interval_s | 3600      | usage interval length (aligned to the epoch)                |
| track_interval      | 1 s       | reactor positions at the head of the log: at most this often|
| drain_timeout       | 30 s      | wait for CMD to be handled before the reactors start        |
| restart_delay       | 1 s       | before a crashed component is started again                 |
| heartbeat_timeout   | 30 s      | a healthy node silent longer than this is marked lost       |
| health_interval     | 5 s       | how often the heartbeat checker looks for silent nodes      |
| autoscale_interval  | 15 s      | autoscaler ticks: discovery load -> ScaleDeployment (0 = off) |
| gc_threshold        | 50000     | the cycle collector's generation-0 threshold (heap.py; 0 = the interpreter's) |
| backoff             | .2,1,5,15 | redelivery delays of a failing command                      |
| clock               | UTC now   | the time decisions are made at (tests pass their own)       |
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bus.config import load_table
from bus.errors import ConfigError


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ControlSettings:
    durable: str = "control"
    policy: str = "binpack"
    sweep_interval: float = 15.0
    meter_tick: float = 60.0
    meter_grace: float = 60.0  # ticks bill boundaries at least this far in the past
    metering_interval_s: int = 3600
    track_interval: float = 1.0  # reactor positions at the head of the log: at most this often
    drain_timeout: float = 30.0
    restart_delay: float = 1.0
    heartbeat_timeout: float = 30.0  # a healthy node silent longer than this is marked lost (bus/control/health.py)
    health_interval: float = 5.0  # heartbeat checker sweeps
    autoscale_interval: float = 15.0  # bus/control/autoscaler.py ticks; 0 = no autoscaling
    gc_threshold: int = 50_000  # bus/control/heap.py: fewer, cheaper collections of a large heap
    backoff: tuple[float, ...] = (0.2, 1.0, 5.0, 15.0)
    clock: Callable[[], datetime] = field(default=utc_now)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> ControlSettings:
        return load_table(cls, "control", "TESSERA_CONTROL_", environ, skip=("clock",), check=cls._check)

    def _check(self, origins: Mapping[str, str]) -> None:
        if self.policy not in ("binpack", "spread"):
            raise ConfigError(f"{origins['policy']}: must be binpack or spread, got {self.policy!r}")
        for name in ("sweep_interval", "meter_tick", "track_interval", "heartbeat_timeout", "health_interval"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{origins[name]}: must be > 0, got {getattr(self, name)!r}")
        if self.autoscale_interval < 0:
            raise ConfigError(f"{origins['autoscale_interval']}: must be >= 0 (0 = off), "
                              f"got {self.autoscale_interval!r}")
        if self.gc_threshold < 0:
            raise ConfigError(f"{origins['gc_threshold']}: must be >= 0, got {self.gc_threshold!r}")
