"""The running stack for the API tests: a real nats-server, the control plane, the gateway on a free port.

`Stack` runs everything in one background thread with its own event loop
(the way `tessera up` runs it: ControlPlane + GatewayRuntime + uvicorn on one
loop), so tests talk to it over real HTTP with a plain `httpx.Client`, and
`stack.call(coro)` runs a coroutine on the stack's loop (to read the bus).
One stack per test module (`api` fixture): starting it costs about a second.

The shared stack's gateway has generous rate limits (tests send bursts);
`stack.gateway(settings)` starts another gateway replica on the same bus
with its own settings (the rate-limit tests, the revocation-on-every-replica
test). Every log record of the stack's loggers is kept in `stack.logs` (S3:
no token may appear there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest

from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.server import ServerProcess
from bus.settings import Settings
from bus.streams import ensure_streams
from gateway.http import GatewayRuntime, GatewaySettings

FAST = GatewaySettings(host="127.0.0.1", port=0, rate=10_000, burst=10_000, anon_rate=10_000, anon_burst=10_000,
                       command_timeout=5.0)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format is still evidence: keep its raw parts
            self.lines.append(f"{record.msg!r} {record.args!r}")


class Stack:
    def __init__(self, nats_url: str, settings: GatewaySettings = FAST, **runtime) -> None:
        self.nats_url = nats_url
        self.settings = settings
        self.runtime_options = runtime
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="api-stack", daemon=True)
        self.gateways: list[GatewayRuntime] = []
        self.logs = Captured()
        self.admin_token = ""
        self.url = ""

    def call(self, coro, timeout: float = 60.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Stack:
        root = logging.getLogger()
        root.addHandler(self.logs)
        for name in ("tessera", "uvicorn", "uvicorn.error", "nats"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        self.thread.start()
        self.call(self._start())
        return self

    async def _start(self) -> None:
        bus_settings = Settings(publish_timeout=5.0)
        nc = await connect(self.nats_url, bus_settings, name="api-tests")
        await ensure_streams(nc.jetstream(), bus_settings)
        self.bus = Bus(nc=nc, js=nc.jetstream(), settings=bus_settings, url=self.nats_url)
        self.plane = ControlPlane(self.bus, ControlSettings(sweep_interval=0.5, track_interval=0.2))
        await self.plane.start()
        self.primary = await self._gateway(self.settings, **self.runtime_options)
        self.url = self.primary.url
        self.admin_token = await self.primary.bootstrap("root")

    async def _gateway(self, settings: GatewaySettings, **options) -> GatewayRuntime:
        runtime = GatewayRuntime(self.bus, settings, **options)
        await runtime.start()
        await runtime.serve(port=0)
        self.gateways.append(runtime)
        return runtime

    def gateway(self, settings: GatewaySettings | None = None, **options) -> GatewayRuntime:
        """Another gateway replica on the same bus (its own read models, limits and memory)."""
        return self.call(self._gateway(settings or self.settings, **options))

    def stop(self) -> None:
        async def _stop() -> None:
            for runtime in reversed(self.gateways):
                await runtime.stop()
            await self.plane.stop()
            await self.bus.nc.close()

        try:
            self.call(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            logging.getLogger().removeHandler(self.logs)

    def client(self, token: str | None = None, url: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=url or self.url, headers=headers, timeout=30.0)


@dataclass
class Api:
    """What a test module gets: the stack, an admin client and a way to make users of any role."""

    stack: Stack
    admin: httpx.Client

    def tenant(self, name: str) -> None:
        r = self.admin.post("/v1/tenants", json={"tenant": name, "display_name": name.title()})
        assert r.status_code in (202, 409), r.text

    def user(self, tenant: str, user_id: str, role: str) -> httpx.Client:
        """A client authenticated as a new user of `tenant` with `role` (the tenant is created if needed)."""
        self.tenant(tenant)
        headers = {"X-Tessera-Tenant": tenant}
        r = self.admin.post("/v1/users", json={"user_id": user_id, "name": user_id, "role": role}, headers=headers)
        assert r.status_code == 202, r.text
        r = self.admin.post("/v1/tokens", json={"name": "tests", "user_id": user_id}, headers=headers)
        assert r.status_code == 201, r.text
        return self.stack.client(r.json()["token"])


@contextlib.contextmanager
def clickhouse_stack(home: Path, name: str):
    """A stack whose ClickHouse (chdb at `home`/clickhouse) is fed live by the EVT projection; yields (Api, client)."""
    from adapters.clickhouse import client as clickhouse_client
    from projections.clickhouse import ClickHouseSink
    from projections.runner import ProjectionRunner

    server = ServerProcess(store_dir=home / "nats-store", name=name).start()
    ch = clickhouse_client(home / "clickhouse")
    stack = Stack(server.url, clickhouse=ch).start()
    stop = asyncio.Event()

    async def project() -> None:
        sink = ClickHouseSink(ch, database="tessera").setup()
        await ProjectionRunner(stack.bus.nc, sink, batch_size=100, flush_interval=0.05).run(stop)

    projecting = asyncio.run_coroutine_threadsafe(project(), stack.loop)
    admin = stack.client(stack.admin_token)
    try:
        yield Api(stack, admin), ch
    finally:
        stack.loop.call_soon_threadsafe(stop.set)
        with contextlib.suppress(Exception):
            projecting.result(10)
        admin.close()
        stack.stop()
        ch.close()
        server.stop()


def eventually(check: Callable[[], object], timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


CLUSTER = {
    "name": "c1", "region": "eu", "backend": "simulator",
    "pools": [{"name": "gpu"}],
    "nodes": [{"name": f"n{i}", "pool": "gpu", "gpu_model": "H100", "gpu_count": 8, "gpu_memory_gb": 80,
               "nvlink_domain": f"nvl{i}", "rack": "r1", "cpu": 64, "memory_gb": 512} for i in range(2)],
}


def job_spec(name: str = "train", gpus: int = 1, **more) -> dict:
    return {"name": name, "image": "ghcr.io/acme/train:1", "gpus": gpus, "gpu_model": "H100", **more}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    server = ServerProcess(store_dir=tmp_path_factory.mktemp("api-nats") / "store", name="api").start()
    running = Stack(server.url).start()
    yield running
    running.stop()
    server.stop()


@pytest.fixture(scope="module")
def api(stack) -> Api:
    admin = stack.client(stack.admin_token)
    yield Api(stack, admin)
    admin.close()


@pytest.fixture(scope="module")
def fleet(api) -> dict:
    """The cluster `c1` (2 nodes x 8 H100) onboarded through the API."""
    r = api.admin.post("/v1/clusters", json=CLUSTER)
    assert r.status_code == 202, r.text
    eventually(lambda: api.admin.get("/v1/nodes", params={"cluster": "c1"}).json()["items"].__len__() == 2)
    return CLUSTER


__all__ = ["CLUSTER", "FAST", "Api", "Stack", "eventually", "job_spec", "replace"]
