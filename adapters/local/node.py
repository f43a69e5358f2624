"""The local cluster's one node: this host, registered through commands and kept alive by heartbeats.

`register_host` reads the cluster from the log first: OnboardCluster (backend
"local", this host as its node) the first time, AddNode if the cluster exists
without this node, nothing if it is there (a changed host is not re-described:
remove the node to register it anew). `heartbeats` waits until the node
aggregate exists (a heartbeat for an unknown node would be refused), then
sends RecordHeartbeat every `heartbeat_interval` seconds; a beat that cannot
be sent is skipped (the silence is what the heartbeat checker acts on).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from adapters.backend import Reporter, registered_nodes
from adapters.local.host import host_name, host_node
from bus.read import load_aggregate
from schemas import PLATFORM_TENANT
from schemas import fleet as f

log = logging.getLogger("tessera.local")


@dataclass(frozen=True)
class LocalSettings:
    home: Path = Path(".tessera")
    cluster: str = "local"
    node: str = field(default_factory=host_name)
    region: str = "local"
    pool: str = "default"
    heartbeat_interval: float = 5.0
    stop_grace: float = 5.0
    timeout_grace: float = 30.0
    gpus: tuple[str | None, int, int] | None = None  # (model, count, GB) instead of asking nvidia-smi (tests)
    platform_env: dict[str, str] = field(default_factory=dict, repr=False)  # for platform components (workdir.py)


async def register_host(nc, reporter: Reporter, s: LocalSettings) -> f.NodeSpec:
    node = await asyncio.to_thread(host_node, s.node, pool=s.pool, gpus=s.gpus)
    known = await registered_nodes(nc, s.cluster)
    if known is None:
        spec = f.ClusterSpec(name=s.cluster, region=s.region, backend="local", nodes=[node])
        await reporter.send(PLATFORM_TENANT, f.OnboardCluster(spec=spec), "onboard", s.node)
    elif s.node not in known:
        await reporter.send(PLATFORM_TENANT, f.AddNode(cluster=s.cluster, node=node), "add", s.node)
    log.info("local cluster %s: node %s (%s CPUs, %s GB, %s GPUs)", s.cluster, node.name, node.cpu,
             node.memory_gb, node.gpu_count)
    return node


async def heartbeats(nc, reporter: Reporter, s: LocalSettings) -> None:
    node_id = f.node_id(s.cluster, s.node)
    for _ in range(600):  # the node aggregate exists once its registration was decided
        if await load_aggregate(nc, PLATFORM_TENANT, "node", node_id):
            break
        await asyncio.sleep(0.1)
    while True:
        try:
            await reporter.send_many([reporter.heartbeat(s.node, datetime.now(UTC))])
        except Exception as exc:  # the bus is away: the next beat tries again (a missed one is the signal)
            log.warning("local cluster %s: heartbeat not sent: %s", s.cluster, exc)
        await asyncio.sleep(s.heartbeat_interval)
