"""The node mirror: a node aggregate's history starts with the NodeRegistered its cluster decided.

NodeRegistered and NodeRemoved are decided on the `cluster` aggregate (membership
and onboarding are one atomic decision there, see domains/registry). This
follower appends a copy of each to the `node` aggregate `routing.node_mirror`
names, so node commands (cordon, drain, heartbeat, lost) find their node.

The copy: same payload, tenant and correlation; `causationid` = the cluster
event's id, `id = derived_id("mirror", <cluster event id>)`, version = the
node's head + 1, appended through `AggregateStore` (optimistic concurrency on
the node's subjects; a conflict is retried by reloading).

Idempotent: before appending it loads the node aggregate and skips the copy if
an event caused by that cluster event is already there, so a restart, a second
mirror process or a redelivery never appends twice. Position: tracked as
`mirror` (library tracking record) so a restart resumes after it; it needs no
view, so it follows EVT from there, not from the start. A node command that
arrives before its mirror copy is NotFound (dead-lettered): wait for the node.
"""

from __future__ import annotations

import asyncio
import logging

from bus.aggregates import AggregateConflict, AggregateStore
from domains.registry import CLUSTER, NODE, node_mirror
from schemas import Envelope, derived_id

log = logging.getLogger("tessera.control.mirror")


def mirrored(event: Envelope, node: str, version: int) -> Envelope:
    return event.model_copy(update={
        "id": derived_id("mirror", event.id), "causationid": event.id, "aggregate": NODE,
        "aggregateid": node, "version": version,
    })


class NodeMirror:
    """A Reactor (for ControlRunner) whose effect is an append, not a command: `react` returns []."""

    name = "mirror"
    resume_only = True  # no view to rebuild: start after the stored position

    def __init__(self, store: AggregateStore, attempts: int = 10) -> None:
        self.store = store
        self.attempts = attempts
        self.appended = 0

    def apply(self, event: Envelope) -> None:
        return None

    def react(self, event: Envelope):
        return []

    async def effect(self, event: Envelope) -> None:
        if event.aggregate != CLUSTER:
            return
        node = node_mirror(event.data)
        if node is None:
            return
        for _ in range(self.attempts):
            loaded = await self.store.load(event.tenant, NODE, node)
            if any(e.causationid == event.id for e in loaded.events):
                return
            try:
                await self.store.append([mirrored(event, node, loaded.version + 1)])
            except AggregateConflict:
                await asyncio.sleep(0.005)
                continue
            self.appended += 1
            return
        raise RuntimeError(f"mirror of {event.id} onto node {node}: {self.attempts} conflicting attempts")
