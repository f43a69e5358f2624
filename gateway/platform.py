"""The composition root of `tessera up`: everything is built here, nothing at import.

The platform is the bus (the embedded nats-server or the configured cluster,
the provisioned streams, a status line) and the control plane on it
(`bus.control.ControlPlane`: command handling, the reactors, the timers).
Later issues add projections, the gateway and compute backends to this one place.
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass

from nats.js.errors import NotFoundError

from bus.connection import Bus, open_bus, redact
from bus.control import ControlPlane
from bus.settings import Settings
from bus.streams import expected_streams


@dataclass(frozen=True)
class StreamStatus:
    name: str
    subjects: list[str]
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    replicas: int


async def stream_status(bus: Bus) -> list[StreamStatus]:
    out = []
    for config in expected_streams(bus.settings):
        try:
            info = await bus.js.stream_info(config.name)
        except NotFoundError:
            continue
        state = info.state
        out.append(StreamStatus(config.name, list(info.config.subjects or []), state.messages, state.bytes,
                                state.first_seq, state.last_seq, info.config.num_replicas or 1))
    return out


def status_line(bus: Bus, streams: list[StreamStatus]) -> str:
    where = "embedded" if bus.server else "external"
    if bus.server and bus.server.reused:
        where = "embedded, reused"
    counts = " ".join(f"{s.name}={s.messages}" for s in streams)
    return f"tessera: bus {redact(bus.url)} ({where}) | streams {counts}"


async def run_platform(settings: Settings, *, duration: float | None, report) -> None:
    """Bring the platform up, report, and stay up until SIGINT/SIGTERM or `duration` seconds."""
    bus = await open_bus(settings, name="tessera-up")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    plane = ControlPlane(bus)
    try:
        await plane.start()
        report(bus, await stream_status(bus))
        try:
            await asyncio.wait_for(stop.wait(), timeout=duration)
        except TimeoutError:
            pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await plane.stop()
        await bus.close()
