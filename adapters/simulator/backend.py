"""The simulator: a fleet of simulated clusters, onboarded through commands, each with its own executor.

`Simulator(nc, fleet)` (fleet from `parse_fleet`); `start()` registers every
cluster and then runs, per cluster, its executor (`exec-<cluster>`) and its
heartbeats; `close()` stops them.

Registration reads the log first (`registered_nodes`): a cluster not yet
onboarded gets OnboardCluster with its first nodes, at most `ONBOARD_NODES`
and `ONBOARD_BYTES` of node specs (one decision is one atomic batch, and a
NATS message must stay under 1 MB); every node not yet registered gets an
AddNode, pipelined in batches. A restarted simulator therefore sends only what
is missing, and ids derived from (cluster, node) make a resend a duplicate.
`wait_registered()` returns once the log has every node, and the control
plane's node mirror has started the last one's `node` aggregate (it mirrors
in log order): heartbeats start only then, since a heartbeat for a node
without its aggregate would be refused.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from adapters.backend import registered_nodes
from bus import subjects
from bus.direct import last_for
from domains.registry import NODE
from adapters.simulator.cluster import SimulatedCluster
from adapters.simulator.dice import Dice
from adapters.simulator.fleet import Fleet, parse_fleet
from schemas import PLATFORM_TENANT
from schemas import fleet as f

log = logging.getLogger("tessera.simulator")
ONBOARD_NODES = 500
ONBOARD_BYTES = 256 * 1024
ADD_BATCH = 1000


class Simulator:
    def __init__(self, nc, fleet: Fleet) -> None:
        self.nc = nc
        self.fleet = fleet
        dice = Dice(fleet.simulation)
        self.clusters = {c.name: SimulatedCluster(nc, c, fleet.simulation, dice) for c in fleet.clusters}
        self._tasks: list[asyncio.Task] = []

    async def start(self, *, registered_timeout: float = 120.0) -> None:
        for cluster in self.clusters.values():
            await register(cluster)
        for cluster in self.clusters.values():
            self._tasks.append(asyncio.ensure_future(cluster.executor.run()))
        await self.wait_registered(registered_timeout)
        for cluster in self.clusters.values():
            self._tasks.append(asyncio.ensure_future(cluster.heartbeats()))

    async def wait_registered(self, timeout: float = 120.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        for name, cluster in self.clusters.items():
            last = subjects.aggregate_subjects(PLATFORM_TENANT, NODE, f.node_id(name, list(cluster.nodes)[-1]))
            while (len(await registered_nodes(self.nc, name) or ()) < len(cluster.nodes)
                   or await last_for(self.nc, "EVT", last) is None):  # the node aggregates exist (mirror.py)
                if asyncio.get_running_loop().time() > deadline:
                    raise TimeoutError(f"simulated cluster {name}: nodes not all registered after {timeout}s")
                await asyncio.sleep(0.1)

    async def close(self) -> None:
        for cluster in self.clusters.values():
            await cluster.executor.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for cluster in self.clusters.values():
            await cluster.outbox.close()

    @property
    def violations(self) -> list[str]:
        return [v for c in self.clusters.values() for v in c.violations]


def load_fleet(path: str | Path) -> Fleet:
    """A fleet spec file (YAML or JSON); `FleetSpecError` lists its problems."""
    return parse_fleet(Path(path).read_text())


def onboarding_chunk(nodes: list[f.NodeSpec]) -> int:
    """How many of `nodes` go into the OnboardCluster command itself."""
    size = 0
    for count, node in enumerate(nodes[:ONBOARD_NODES]):
        size += len(node.model_dump_json())
        if size > ONBOARD_BYTES:
            return max(count, 1)
    return min(len(nodes), ONBOARD_NODES)


async def register(cluster: SimulatedCluster) -> None:
    spec, reporter = cluster.spec, cluster.reporter
    known = await registered_nodes(cluster.nc, spec.name)
    missing = list(spec.nodes)
    if known is None:
        first = onboarding_chunk(missing)
        onboard = spec.model_copy(update={"nodes": missing[:first]})
        await reporter.send(PLATFORM_TENANT, f.OnboardCluster(spec=onboard), "onboard")
        missing = missing[first:]
    else:
        missing = [n for n in missing if n.name not in known]
    adds = [(PLATFORM_TENANT, f.AddNode(cluster=spec.name, node=n), ("add", n.name)) for n in missing]
    for start in range(0, len(adds), ADD_BATCH):
        await reporter.send_many(adds[start:start + ADD_BATCH])
    log.info("simulated cluster %s: %s nodes (%s added now)", spec.name, len(spec.nodes), len(adds))
