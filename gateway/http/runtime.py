"""`GatewayRuntime(bus, settings)`: the gateway's read side, its app, and uvicorn, in the running loop.

- `start()` builds the read side: one ProjectionRunner over the registry
  models (clusters, nodes, jobs, workflows), the identity model, the fleet
  view (allocation dry-runs) and, last, the outcomes tracker, following EVT;
  it returns once they have caught up with the log as it was (so a token
  issued before the start authenticates at once). Then the dead-letter
  listener and the FastAPI app (`create_app(services)`).
- `serve(host, port)` runs a uvicorn server inside the running loop (port 0:
  a free one) and returns the bound URL (`.url`). No signal handlers are
  installed: the composition root (gateway/platform.py, or a test) owns them.
- `stop()` stops uvicorn (open streams end), the runner, the listener.
- `bootstrap(admin)` sends the one-time BootstrapPlatform and returns the
  first admin token (None if the platform was bootstrapped before).
The read-model runner restarts after a failure (logged), resuming from the
models' in-memory positions. A start loads the latest snapshots
(projections.snapshots, bucket `tessera_snapshots`) and replays only the
tail; a Snapshotter saves new ones while it runs. GETs with `?as_of=` answer
from a past registry (asof.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import uvicorn
from starlette.middleware import Middleware

from bus.connection import Bus
from bus.publish import Publisher
from gateway.http.app import create_app
from gateway.http.asof import AsOf, ModelSwitch, PastStates
from gateway.http.commands import execute
from gateway.http.errors import ApiError
from gateway.http.fleet import FleetView
from gateway.http.idempotency import IdempotencyKeys
from gateway.http.outcomes import Outcomes, Pending
from gateway.http.services import Services, utc_now
from gateway.http.settings import GatewaySettings
from gateway.tokens import new_token
from projections.billing import BillingModel
from projections.identity import IdentityModel
from projections.registry import Registry
from projections.runner import ProjectionRunner
from projections.snapshots import SnapshotStore, Snapshotter, start_from_snapshots
from projections.usage.ratecards import RateCards
from schemas import PLATFORM_TENANT, derived_id
from schemas import identity as i

log = logging.getLogger("tessera.gateway")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # the composition root owns the signals
        yield


class GatewayRuntime:
    def __init__(self, bus: Bus, settings: GatewaySettings | None = None, *, clickhouse=None,
                 clickhouse_db: str = "tessera", placement_policy: str = "binpack",
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.bus = bus
        self.settings = settings or GatewaySettings()
        self.clickhouse = clickhouse
        self.clickhouse_db = clickhouse_db
        self.placement_policy = placement_policy
        self.clock = clock
        self.url: str | None = None
        self.services: Services | None = None
        self.app = None
        self.runner: ProjectionRunner | None = None
        self._stop = asyncio.Event()
        self._following: asyncio.Task | None = None
        self._server: _Server | None = None
        self._serving: asyncio.Task | None = None

    async def start(self) -> None:
        registry, identity, fleet = Registry(), IdentityModel(), FleetView()
        billing, ratecards = BillingModel(), RateCards()  # /v1/invoices; /v1/usage/preview (with ClickHouse)
        outcomes = Outcomes(registry.aggregates | identity.aggregates | fleet.aggregates | billing.aggregates
                            | ratecards.aggregates)  # read-your-writes for rate cards, credits, budgets too
        self.runner = ProjectionRunner(self.bus.nc, [registry, identity, fleet, billing, ratecards, outcomes])
        outcomes.head = self.runner.position
        self.snapshots = SnapshotStore(self.bus.nc.jetstream(), replicas=self.bus.settings.replicas)
        self.restored_from = await start_from_snapshots(self.snapshots, self.runner)  # then only the tail (P3)
        await self.runner.catch_up()
        self._snapshotting = asyncio.create_task(Snapshotter(self.snapshots, self.runner).run(self._stop))
        await outcomes.listen(self.bus.nc, self.settings.control_durable)
        self._following = asyncio.create_task(self._follow(), name="gateway-read-models")
        self.services = Services(
            nc=self.bus.nc, settings=self.settings, registry=ModelSwitch(registry, "registry"), identity=identity,
            fleet=ModelSwitch(fleet, "fleet"),
            outcomes=outcomes, publisher=Publisher(self.bus.nc, stream="CMD", timeout=self.bus.settings.publish_timeout),
            idempotency=IdempotencyKeys(self.settings.idempotency_keys), clickhouse=self.clickhouse,
            clickhouse_db=self.clickhouse_db, placement_policy=self.placement_policy, clock=self.clock,
            stopping=self._stop, billing=ModelSwitch(billing, "billing"), ratecards=ModelSwitch(ratecards, "ratecards"),
        )
        self.app = create_app(self.services, position=self.runner.position)
        self.app.user_middleware.append(Middleware(  # innermost: after authentication and rate limits
            AsOf, past=PastStates(self.bus.nc, self.snapshots), position=self.runner.position))

    async def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                await self.runner.run(self._stop)
            except Exception as exc:  # a lost connection, a bad batch after retries: resume from the positions
                log.error("gateway read models stopped (%s: %s); resuming in 1 s", type(exc).__name__, exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)

    async def serve(self, host: str | None = None, port: int | None = None) -> str:
        if self.app is None:
            raise RuntimeError("GatewayRuntime.start() first")
        host = host or self.settings.host
        logging.getLogger("uvicorn.access").disabled = True  # ours (access.py) leaves out query strings
        config = uvicorn.Config(self.app, host=host, port=self.settings.port if port is None else port,
                                access_log=False, log_config=None, lifespan="off", timeout_graceful_shutdown=5)
        self._server = _Server(config)
        self._serving = asyncio.create_task(self._server.serve(), name="gateway-http")
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises the bind error
                raise RuntimeError(f"the gateway could not listen on {host}:{config.port}")
            await asyncio.sleep(0.01)
        bound = self._server.servers[0].sockets[0].getsockname()
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
        return self.url

    async def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serving, 10)
        if self._following is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._following, 10)
        if getattr(self, "_snapshotting", None) is not None:  # it saves a last snapshot on the way out
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._snapshotting, 30)
        if self.services is not None:
            await self.services.outcomes.close()

    async def bootstrap(self, admin_user_id: str = "admin", ttl: timedelta = timedelta(days=90)) -> str | None:
        """The first platform admin's token, or None if the platform was bootstrapped already."""
        s = self.services
        if s is None:
            raise RuntimeError("GatewayRuntime.start() first")
        if s.identity.bootstrapped:
            return None
        token, token_id, token_hash = new_token()
        cmd = i.BootstrapPlatform(admin_user_id=admin_user_id, token_id=token_id, token_hash=token_hash,
                                  expires_at=self.clock() + ttl)
        try:
            outcome = await execute(s, "system:bootstrap", PLATFORM_TENANT, cmd, derived_id("bootstrap", token_id))
        except ApiError as exc:
            if exc.extra.get("reason") == "already_bootstrapped":
                return None
            raise
        if isinstance(outcome, Pending):
            raise TimeoutError("the platform bootstrap was not applied in time: is the control plane running?")
        return token
