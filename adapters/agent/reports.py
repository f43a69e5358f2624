"""What the agent tells the platform: its discovery entry and its reports to the deployment.

- `entry(config, url, load, now)` is the `bus.discovery.AgentEntry` the agent
  re-puts every heartbeat (key `<tenant>.<deployment>.<replica>.<generation>`).
- `Reports.ready(url)` / `Reports.lost(reason)` send ReportReplicaReady /
  ReportReplicaLost to CMD (`bus.commands.send`, under the deployment's
  tenant, actor `agent:<deployment>/<replica>`), each a new command with an
  edge id. `send` returns once JetStream stored the command and raises if it
  could not (the runner retries a ready report on its next beat); the
  deployment decides whether it matters (a report for an older generation, or
  the status the slot already has, decides nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.agent.metrics import Load
from bus.commands import send
from bus.discovery import AgentEntry
from bus.publish import Publisher
from schemas import Envelope
from schemas import inference as inf

SOURCE = "/tessera/agent"


@dataclass(frozen=True)
class AgentConfig:
    tenant: str
    deployment: str
    replica: int
    generation: int
    model: str
    engine: str
    max_concurrent: int = 1
    engine_args: tuple[str, ...] = ()
    host: str = "127.0.0.1"  # where the engine listens
    advertise: str | None = None  # the host in the registered URL; None: `host` (127.0.0.1 for 0.0.0.0)
    port: int = 0  # 0: a free port
    interval: float = 2.0  # seconds between heartbeats (bus.discovery.HEARTBEAT_S)
    startup_timeout: float | None = None  # None: the engine's own
    unhealthy_after: int = 3  # failed load reads in a row before the replica leaves discovery
    drain_timeout: float = 5.0  # after deregistering, wait this long for requests in flight
    stop_grace: float = 10.0  # SIGTERM -> SIGKILL for the engine

    @property
    def probe_host(self) -> str:
        return "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host

    def url(self, port: int) -> str:
        return f"http://{self.advertise or self.probe_host}:{port}"


def entry(config: AgentConfig, url: str, load: Load, now: datetime | None = None) -> AgentEntry:
    return AgentEntry(tenant=config.tenant, deployment=config.deployment, model=config.model,
                      replica=config.replica, generation=config.generation, url=url, engine=config.engine,
                      running=max(load.running, 0), waiting=max(load.waiting, 0), kv_cache=max(load.kv_cache, 0.0),
                      max_concurrent=max(config.max_concurrent, 1), updated=now or datetime.now(UTC))


class Reports:
    def __init__(self, nc, config: AgentConfig) -> None:
        self.publisher = Publisher(nc, stream="CMD")
        self.config = config

    async def ready(self, url: str) -> None:
        c = self.config
        await self._send(inf.ReportReplicaReady(deployment_id=c.deployment, replica=c.replica,
                                                generation=c.generation, endpoint=url[:500]))

    async def lost(self, reason: str) -> None:
        c = self.config
        await self._send(inf.ReportReplicaLost(deployment_id=c.deployment, replica=c.replica,
                                               generation=c.generation, reason=reason[:1000]))

    async def _send(self, command) -> None:
        c = self.config
        env = Envelope.for_command(command, tenant=c.tenant, actor=f"agent:{c.deployment}/{c.replica}",
                                   source=SOURCE, time=datetime.now(UTC))
        await send(self.publisher, env)
