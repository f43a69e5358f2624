"""What an inference engine is to the agent: a command line, a health URL and a metrics URL.

An `Engine` (one file each: vllm.py, cpu.py) only builds the child process's
argv for a model on a loopback port; the agent (adapters/agent/runner.py)
starts it, probes `health_path` until it answers 200, then reads load from
`metrics_path` as Prometheus text with vLLM's metric names
(adapters/agent/metrics.py). Every engine exports those names, so routing and
autoscaling read one format whatever serves the model.

`check(model, engine_args)` runs before anything starts and raises
`EngineError` with a message for people (an unknown model, a missing extra):
the agent then exits non-zero without a half-started engine.
"""

from __future__ import annotations

import socket
from typing import Protocol


class EngineError(Exception):
    """The engine cannot serve this model here; the message says why and what to do."""


class Engine(Protocol):
    name: str
    health_path: str
    metrics_path: str
    startup_timeout: float  # seconds for a first healthy answer (weights load in this time)

    def check(self, model: str, engine_args: list[str]) -> None: ...

    def command(self, model: str, host: str, port: int, engine_args: list[str]) -> list[str]: ...


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (the engine binds it a moment later; a clash fails its health wait)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
