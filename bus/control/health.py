"""The heartbeat checker: nodes whose heartbeats stop are marked lost (MarkNodeLost on CMD).

Routine heartbeats are not events (a node's first heartbeat, and its first
after being lost, decide NodeHealthy; the rest decide nothing), so the
checker keeps when it last heard from each node in memory:

- Heard: it subscribes (core NATS, no consumer) to the platform's
  `RecordHeartbeat` command subject on CMD and notes the receipt time (the
  control plane's clock, never the node's) per node. It sees every heartbeat
  published while it runs, whichever process handles the command.
- Watched: from the `node` aggregates' events on EVT (`evt._platform.node.>`,
  read from the start on every start): a node is watched from its NodeHealthy
  until NodeLost, NodeRemoved or a re-registration. A node that never reported
  healthy (health unknown) is never marked lost: nothing says it should beat.
- Last seen = the latest of: its last heartbeat heard, the time of its
  NodeHealthy, and the moment this checker started listening. The last one is
  the seed that keeps a restarted control plane from marking every node lost
  at once: a node is only marked lost after the checker itself listened for
  longer than `heartbeat_timeout` without hearing from it.

Every `health_interval` seconds (once the node events are read to the head),
`sweep(now)` sends MarkNodeLost for each watched node with `now - last seen >
heartbeat_timeout` (`domains.registry.health.lost_nodes`). The command id is
derived from the node and the id of the NodeHealthy that started its watch:
repeated sweeps, restarts and several checker processes send the same id for
the same healthy period (JetStream drops the copies inside its duplicate
window, the node aggregate's command-id check after it), and a node that came
back and went silent again gets a new id. A node is not marked twice in one
period by one checker. The node aggregate ignores MarkNodeLost for a lost
node and refuses it for a removed one; its NodeLost makes the nodes reactor
requeue or fail the jobs placed there (`on_node_lost`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from bus import direct, subjects
from bus.commands import send
from bus.publish import Publisher
from bus.read import follow
from domains.registry.health import lost_nodes
from schemas import PLATFORM_TENANT, DecodeError, Envelope, decode, derived_id
from schemas import fleet as f

log = logging.getLogger("tessera.control.health")
HEARTBEATS = subjects.command_subject(PLATFORM_TENANT, f.RecordHeartbeat.TYPE)
NODE_EVENTS = f"evt.{PLATFORM_TENANT}.node.>"


class Watched(NamedTuple):
    cluster: str
    node: str
    epoch: str  # the id of the NodeHealthy that started this healthy period
    since: datetime  # its time


@dataclass
class HeartbeatWatch:
    """The checker's view, without I/O: who is watched since when, who was heard when, what is due."""

    timeout: timedelta
    listening_since: datetime
    heard: dict[str, datetime] = field(default_factory=dict)  # node id -> last heartbeat received
    watched: dict[str, Watched] = field(default_factory=dict)  # node id -> since its last NodeHealthy
    marked: dict[str, str] = field(default_factory=dict)  # node id -> NodeHealthy id it was marked lost in

    def heartbeat(self, node: str, at: datetime) -> None:
        last = self.heard.get(node)
        if last is None or at > last:
            self.heard[node] = at

    def apply(self, env: Envelope) -> None:
        """A `node` aggregate event, in log order."""
        e = env.data
        if isinstance(e, f.NodeHealthy):
            self.watched[f.node_id(e.cluster, e.node)] = Watched(e.cluster, e.node, env.id, env.time)
        elif isinstance(e, (f.NodeLost, f.NodeRemoved, f.NodeRegistered)):
            node = f.node_id(e.cluster, e.node.name if isinstance(e, f.NodeRegistered) else e.node)
            self.watched.pop(node, None)
            self.marked.pop(node, None)
            if isinstance(e, f.NodeRemoved):
                self.heard.pop(node, None)

    def due(self, now: datetime) -> list[tuple[str, str, f.MarkNodeLost]]:
        """(node id, command id, command) for each watched node silent too long, not yet marked: sorted."""
        last_seen = {node: max(w.since, self.heard.get(node, w.since), self.listening_since)
                     for node, w in self.watched.items()}
        reason = f"no heartbeat for more than {self.timeout.total_seconds():g}s"
        out = []
        for node in lost_nodes(last_seen, now, self.timeout):
            w = self.watched[node]
            if self.marked.get(node) != w.epoch:
                out.append((node, derived_id("health", "lost", node, w.epoch),
                            f.MarkNodeLost(cluster=w.cluster, node=w.node, reason=reason)))
        return out


class HealthChecker:
    name = "health"

    def __init__(self, nc, *, timeout: float, interval: float, clock: Callable[[], datetime]) -> None:
        self.nc = nc
        self.interval = interval
        self.clock = clock
        self.publisher = Publisher(nc, stream="CMD")
        self.watch = HeartbeatWatch(timedelta(seconds=timeout), clock())
        self.caught_up = asyncio.Event()
        self.sent = 0

    async def run(self) -> None:
        """Listen, read node events, sweep every `interval` s; until cancelled (then unsubscribes)."""
        subscription = await self.nc.subscribe(HEARTBEATS, cb=self._heard)
        self.watch.listening_since = self.clock()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._follow())
                tasks.create_task(self._sweeping())
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def sweep(self, now: datetime) -> int:
        due = self.watch.due(now)
        for node, command_id, command in due:
            await send(self.publisher, Envelope.for_command(
                command, tenant=PLATFORM_TENANT, actor="health", source="/tessera/control/health", time=now,
                id=command_id))
            self.watch.marked[node] = self.watch.watched[node].epoch
            log.warning("node %s: %s; marked lost", node, command.reason)
        self.sent += len(due)
        return len(due)

    async def _heard(self, msg) -> None:
        try:
            env = decode(msg.data)
        except DecodeError:
            return  # the command consumer dead-letters it
        if isinstance(env.data, f.RecordHeartbeat) and env.tenant == PLATFORM_TENANT:
            self.watch.heartbeat(f.node_id(env.data.cluster, env.data.node), self.clock())

    async def _follow(self) -> None:
        if await direct.last_for(self.nc, "EVT", NODE_EVENTS) is None:
            self.caught_up.set()
        async for stored in follow(self.nc, "EVT", subject=NODE_EVENTS):
            try:
                self.watch.apply(decode(stored.data))
            except DecodeError as exc:
                log.warning("health: skipping seq %s: %s", stored.seq, exc)
            if stored.pending == 0:
                self.caught_up.set()

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self.caught_up.is_set():
                await self.sweep(self.clock())
