"""The composition root of `tessera up`: everything is built here, nothing at import.

One process, in this order (and stopped in the reverse order):

1. the bus: the embedded nats-server (or `TESSERA_NATS_URL`), streams provisioned;
2. the control plane (`bus.control.ControlPlane`): commands, reactors, timers; and the
   billing consumer (`bus.billing`: USAGE rated into invoices, exactly once);
3. the ClickHouse projections (chdb under `TESSERA_HOME`, or `TESSERA_CLICKHOUSE_URL`):
   EVT (job events, GPU usage, node samples, audit events) and USAGE (rated usage,
   inference requests, rollups), each following its stream from its stored position;
4. the HTTP gateway (`gateway.http.GatewayRuntime`) on `[gateway] host:port`, with its
   own read models, and the OpenAI-compatible inference proxy (`gateway.proxy`) on
   `[proxy] host:port` (its own port: API keys, not bearer tokens, and its own limits); the first start bootstraps the platform admin and writes its
   token (shown once) with the gateway URL to `$TESSERA_HOME/cli.json` (mode 0600),
   so the CLI on this machine is logged in;
5. compute: the local backend (this host as cluster `local`; table `[local]` and
   `TESSERA_LOCAL_<NAME>`: cluster, node, region, pool, heartbeat_interval,
   stop_grace, timeout_grace) and, when a fleet spec is given, the simulator;
6. with `demo`, the demo rate card (published once per version) and the demo workflow
   (gateway/demo.py) submitted through the HTTP API.

`run_platform` stays up until SIGINT/SIGTERM or `duration` seconds. One `tessera up`
per home: a second one on the same `TESSERA_HOME` is refused with the first one's
gateway URL (an advisory lock on `<home>/up.lock`, released when the process ends,
also when it dies), because chdb and the node's runs belong to one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from nats.js.errors import NotFoundError

from bus.config import load_table
from bus.connection import Bus, open_bus, redact
from bus.errors import BusError
from bus.billing import BillingService, BillingSettings
from bus.control import ControlPlane
from bus.control.settings import ControlSettings
from bus.settings import Settings
from bus.streams import expected_streams

log = logging.getLogger("tessera.up")


class AlreadyRunning(BusError):
    pass


@dataclass(frozen=True)
class StreamStatus:
    name: str
    subjects: list[str]
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    replicas: int


@dataclass(frozen=True)
class UpOptions:
    duration: float | None = None
    host: str | None = None
    port: int | None = None
    fleet: Path | None = None  # a simulator fleet spec
    demo: Path | None = None  # a workflow spec to run once everything is up
    ratecard: Path | None = None  # a rate card (PublishRateCard) to publish on start, once per version
    local: bool = True


@dataclass
class Started:
    """What `report` is told once the platform is up."""

    bus: Bus
    streams: list[StreamStatus]
    url: str
    token: str | None  # the bootstrap admin token: only on the first start
    config_path: Path
    clusters: list[str]
    proxy_url: str


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


def lock_home(home: Path) -> int:
    """Hold `<home>/up.lock` for this process (AlreadyRunning if another `tessera up` holds it)."""
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(home / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise BusError(f"cannot write TESSERA_HOME {home}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace")
        os.close(fd)
        url = (json.loads(holder) if holder.startswith("{") else {}).get("url", "starting")
        raise AlreadyRunning(f"tessera up is already running on {home} (gateway {url}): stop it first, "
                             "or set TESSERA_HOME to another directory") from None
    return fd


def note_lock(fd: int, url: str) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps({"pid": os.getpid(), "url": url}).encode(), 0)


def platform_env(bus: Bus) -> dict[str, str]:
    """What platform components run as local jobs (inference agents) need to join this bus."""
    s = bus.settings
    env = {"TESSERA_NATS_URL": bus.url}
    for name, value in (("CREDS", s.nats_creds), ("USER", s.nats_user), ("PASSWORD", s.nats_password),
                        ("TOKEN", s.nats_token), ("TLS_CA", s.tls_ca), ("TLS_CERT", s.tls_cert),
                        ("TLS_KEY", s.tls_key)):
        if value:
            env[f"TESSERA_NATS_{name}"] = str(value)
    return env


async def publish_ratecard(bus: Bus, path: Path) -> None:
    """Send PublishRateCard from a YAML/JSON file; its id is derived from the version, so it applies once."""
    import yaml

    from bus.commands import send
    from bus.publish import Publisher
    from schemas import PLATFORM_TENANT, Envelope, derived_id
    from schemas.metering import PublishRateCard

    card = PublishRateCard.model_validate(yaml.safe_load(path.read_text()))
    env = Envelope.for_command(card, tenant=PLATFORM_TENANT, actor="system:up", source="/tessera/up",
                               time=datetime.now(UTC), id=derived_id("ratecard", str(card.version)))
    await send(Publisher(bus.nc, stream="CMD", timeout=bus.settings.publish_timeout), env)


def save_login(home: Path, url: str, token: str | None) -> Path:
    """cli.json: the gateway URL, and the admin token when this start created one (else the stored one stays)."""
    from gateway.client import CliConfig, load_config, save_config

    try:
        stored = load_config({"TESSERA_HOME": str(home)}).token
    except Exception:  # an unreadable file is replaced
        stored = None
    return save_config(CliConfig(home, url, token or stored))


class Platform:
    """The running pieces of `tessera up`, started and stopped in order."""

    def __init__(self, settings: Settings, options: UpOptions) -> None:
        self.settings = settings
        self.options = options
        self.bus: Bus | None = None
        self.plane: ControlPlane | None = None
        self.billing: BillingService | None = None
        self.gateway = None
        self.proxy = None
        self.backends: list = []
        self.clickhouse = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self._lock: int | None = None

    async def start(self) -> Started:
        from adapters.clickhouse import client as clickhouse_client
        from gateway.http import GatewayRuntime
        from gateway.http.settings import GatewaySettings

        self._lock = lock_home(Path(self.settings.home))
        self.bus = bus = await open_bus(self.settings, name="tessera-up")
        self.plane = ControlPlane(bus, ControlSettings.load())
        await self.plane.start()
        self.billing = BillingService(bus.nc, BillingSettings.load())
        await self.billing.start()
        self.clickhouse = await asyncio.to_thread(clickhouse_client, self.settings)
        self._tasks.append(asyncio.create_task(self._clickhouse_projection(), name="clickhouse-projection"))
        self._tasks.append(asyncio.create_task(self._usage_projection(), name="usage-projection"))
        self.gateway = GatewayRuntime(bus, GatewaySettings.load(), clickhouse=self.clickhouse)
        await self.gateway.start()
        url = await self.gateway.serve(self.options.host, self.options.port)
        note_lock(self._lock, url)
        token = await self.gateway.bootstrap()
        from gateway.proxy.app import ProxyRuntime
        from gateway.proxy.settings import ProxySettings

        self.proxy = ProxyRuntime(bus, ProxySettings.load())
        await self.proxy.start()
        proxy_url = await self.proxy.serve()
        config_path = save_login(self.settings.home, url, token)
        clusters = await self._start_backends()
        if self.options.ratecard is not None:
            await publish_ratecard(bus, self.options.ratecard)
        return Started(bus, await stream_status(bus), url, token, config_path, clusters, proxy_url)

    async def _start_backends(self) -> list[str]:
        clusters = []
        if self.options.local:
            from adapters.local import LocalBackend, LocalSettings

            configured = load_table(LocalSettings, "local", "TESSERA_LOCAL_", skip=("home", "gpus", "platform_env"))
            local = LocalBackend(self.bus.nc, replace(configured, home=Path(self.settings.home),
                                                      platform_env=platform_env(self.bus)))
            await local.start()
            self.backends.append(local)
            clusters.append(local.cluster)
        if self.options.fleet is not None:
            from adapters.simulator import Simulator, load_fleet

            simulator = Simulator(self.bus.nc, load_fleet(self.options.fleet))
            await simulator.start()
            self.backends.append(simulator)
            clusters.extend(simulator.clusters)
        return clusters

    async def _clickhouse_projection(self) -> None:
        from projections.clickhouse import ClickHouseSink
        from projections.runner import ProjectionRunner

        sink = await asyncio.to_thread(ClickHouseSink(self.clickhouse).setup)
        await self._keep_running("clickhouse projection", ProjectionRunner(self.bus.nc, [sink]).run)

    async def _usage_projection(self) -> None:
        from bus.billing import BillingSettings
        from projections.usage.service import UsageProjection

        usage = UsageProjection(self.bus.nc, self.clickhouse, period=BillingSettings.load().period)
        await self._keep_running("usage projection", usage.run)

    async def _keep_running(self, what: str, run) -> None:
        """`run(stop)` until stopped; after a failure (ClickHouse or the bus went away) resume from the stored position."""
        while not self._stop.is_set():
            try:
                await run(self._stop)
            except Exception as exc:
                log.error("%s stopped (%s: %s); resuming in 5 s", what, type(exc).__name__, exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 5.0)

    async def stop(self) -> None:
        self._stop.set()
        for backend in reversed(self.backends):
            with contextlib.suppress(Exception):
                await backend.close()
        if self.proxy is not None:
            await self.proxy.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 30)
        if self.billing is not None:
            await self.billing.stop()
        if self.plane is not None:
            await self.plane.stop()
        if self.clickhouse is not None:
            with contextlib.suppress(Exception):
                self.clickhouse.close()
        if self.bus is not None:
            await self.bus.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the lock


async def run_platform(settings: Settings, options: UpOptions, *, report, on_demo=None) -> None:
    """Bring the platform up, report, run the demo if asked, stay up until a signal or `duration`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    platform = Platform(settings, options)
    demo: asyncio.Task | None = None
    try:
        started = await platform.start()
        report(started)
        if options.demo is not None:
            from gateway.demo import run_demo

            demo = asyncio.create_task(run_demo(started.url, settings.home, options.demo, report=on_demo))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=options.duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if demo is not None and not demo.done():
            demo.cancel()
            with contextlib.suppress(BaseException):
                await demo
        await platform.stop()
