"""The autoscaler: discovery load per deployment -> ScaleDeployment, every `autoscale_interval` seconds.

Two views, one decision:
- `Autoscaler` (a ControlRunner reactor; `react` sends nothing) folds every
  deployment's events with the domain's own `evolve`, and keeps the time of
  its last scale (the DeploymentRequested / DeploymentScaled envelope time:
  what the cooldowns count from).
- `LoadBoard` follows the discovery bucket (bus/discovery.py `watch`): the
  latest AgentEntry per replica key, dropped when the key goes away.
`due(now, board)` asks the pure `domains.inference.scale_command` for every
live deployment with an autoscale policy, with the load of its replicas: the
entries of its active slots (same generation) refreshed within the discovery
TTL; `ready` counts them (no entry: no evidence, the domain holds).

Sending: one ScaleDeployment per deployment and window (window =
floor(now / interval)), its id derived from (tenant, deployment, window, the
count it was computed from): a repeated tick in the same window, or a second
autoscaler, sends the same id and JetStream drops the copy. The command
carries `from_replicas`: if the desired count changed meanwhile (a user's
scale, an earlier recommendation applied) the deployment decides nothing, so a
view that lags the log can never scale twice. A send that fails raises: the
plane's supervisor logs it and the next tick recomputes (nothing is lost but
one interval).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from bus.commands import send
from bus.discovery import TTL_S, AgentEntry, open_registry
from bus.publish import Publisher
from domains.inference import DeploymentState, Load, evolve, scale_command
from schemas import Command, Envelope, derived_id
from schemas import inference as inf

log = logging.getLogger("tessera.control.autoscaler")
EVENTS = (inf.DeploymentRequested, inf.DeploymentScaled, inf.DeploymentStopped, inf.DeploymentStatusChanged,
          inf.ReplicaScheduled, inf.ReplicaStateChanged, inf.ReplicaReady, inf.ReplicaLost, inf.ReplicaFailed,
          inf.ReplicaStopping, inf.ReplicaRemoved)


class LoadBoard:
    """The latest discovery entry of every replica key."""

    def __init__(self) -> None:
        self.entries: dict[str, AgentEntry] = {}
        self.current = False  # the bucket's entries at the start of the watch have all arrived

    def observe(self, key: str, entry: AgentEntry | None) -> None:
        if entry is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = entry

    def load(self, tenant: str, state: DeploymentState, now: datetime) -> Load:
        live = {r.generation for r in state.replicas if r.status != "failed"}
        ready = running = waiting = 0
        for entry in self.entries.values():
            if (entry.tenant == tenant and entry.deployment == state.deployment_id and entry.generation in live
                    and (now - entry.updated).total_seconds() <= TTL_S):
                ready += 1
                running += entry.running
                waiting += entry.waiting
        return Load(ready=ready, running=running, waiting=waiting)

    async def follow(self, nc) -> None:
        """Watch the discovery bucket until cancelled; a watch that ends raises (the supervisor starts it again)."""
        self.entries, self.current = {}, False  # a restart starts from the bucket as it is now
        registry = await open_registry(nc.jetstream())
        async for key, entry in registry.watch(on_current=self._caught_up):
            self.observe(key, entry)
        raise ConnectionError("the discovery watch ended")

    def _caught_up(self) -> None:
        self.current = True


class Autoscaler:
    name = "autoscaler"

    def __init__(self, nc, interval: float) -> None:
        self.publisher = Publisher(nc, stream="CMD")
        self.interval = interval
        self.deployments: dict[tuple[str, str], DeploymentState] = {}
        self.scaled_at: dict[tuple[str, str], datetime] = {}
        self.sent = 0

    def apply(self, env: Envelope) -> None:
        event = env.data
        if not isinstance(event, EVENTS):
            return
        key = (env.tenant, event.deployment_id)
        state = self.deployments.get(key)
        if state is None and not isinstance(event, inf.DeploymentRequested):
            return
        state = evolve(state or DeploymentState(), event)
        if state.stopped:  # terminal: nothing to scale ever again
            self.deployments.pop(key, None)
            self.scaled_at.pop(key, None)
            return
        self.deployments[key] = state
        if isinstance(event, (inf.DeploymentRequested, inf.DeploymentScaled)):
            self.scaled_at[key] = env.time

    def react(self, env: Envelope):
        return []

    def due(self, now: datetime, board: LoadBoard) -> list[tuple[str, str, Command]]:
        """(tenant, command id, ScaleDeployment) for every deployment whose recommendation differs, stably ordered."""
        window = math.floor(now.timestamp() / self.interval)
        out: list[tuple[str, str, Command]] = []
        for (tenant, id), state in sorted(self.deployments.items()):
            if state.spec is None or state.spec.autoscale is None:
                continue
            command = scale_command(state, board.load(tenant, state, now), last_scaled_at=self.scaled_at.get(
                (tenant, id)), now=now)
            if command is not None:
                out.append((tenant, derived_id("autoscale", tenant, id, window, state.desired), command))
        return out

    async def tick(self, now: datetime, board: LoadBoard) -> int:
        if not board.current:  # a partial view of the load would look like an idle deployment
            return 0
        due = self.due(now, board)
        for tenant, command_id, command in due:
            log.info("autoscale %s/%s: %s -> %s (%s)", tenant, command.deployment_id, command.from_replicas,
                     command.replicas, command.reason)
            await send(self.publisher, Envelope.for_command(
                command, tenant=tenant, actor="autoscaler", source="/tessera/control/autoscaler", time=now,
                id=command_id))
        self.sent += len(due)
        return len(due)
