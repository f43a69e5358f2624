"""The placer's fleet: a placement pass copies only the nodes it takes GPUs on.

`domains.allocation.place` runs each pass on `fleet.clone()` so the fleet it
was given stays unchanged. `Fleet.clone` copies every node: O(nodes) per pass
(~4 ms per 1,000 nodes here), which made a pass over a 5,000-node fleet cost
~20 ms even for one queued job. `PassFleet.clone` shares the nodes with the
original instead and copies a node the first time the pass changes it (`take`,
`give_back`, the only node changes a pass makes): the clone's node map and
ordinal list are new, so the copy replaces the shared node in the clone only.
The free-capacity index, the job maps and usage are copied as `Fleet.clone`
copies them (O(buckets) and O(jobs), plain container copies).

Same decisions, same unchanged original: tests/unit/test_passfleet.py runs
passes on both fleets and compares decisions and snapshots, and fails if
`Fleet` grows an attribute this clone does not know.
"""

from __future__ import annotations

from domains.allocation import Fleet
from domains.allocation.model import Node

CLONED = frozenset({"nodes", "by_ord", "index", "running", "queued", "usage", "capacity", "preemptible", "seq",
                    "ended"})


class PassFleet(Fleet):
    def clone(self) -> Fleet:
        twin = _PassCopy.__new__(_PassCopy)
        twin.nodes = dict(self.nodes)
        twin.by_ord = list(self.by_ord)
        twin.index = self.index.copy(twin.by_ord)
        twin.running = dict(self.running)
        twin.queued = dict(self.queued)
        twin.usage = {t: list(u) for t, u in self.usage.items()}
        twin.capacity = list(self.capacity)
        twin.preemptible = dict(self.preemptible)
        twin.seq = self.seq
        twin.ended = self.ended  # shared, as Fleet.clone shares it
        twin.copied = set()
        return twin


class _PassCopy(Fleet):
    """A pass's working copy: nodes are the original's until changed."""

    copied: set[str]

    def take(self, node: Node, job_id: str, count: int) -> tuple[int, ...]:
        return super().take(self._own(node), job_id, count)

    def give_back(self, node: Node, job_id: str) -> None:
        super().give_back(self._own(node), job_id)

    def _own(self, node: Node) -> Node:
        if node.key in self.copied:
            return self.nodes[node.key]
        mine = node.copy()
        self.nodes[node.key] = mine
        self.by_ord[node.ordinal] = mine
        self.copied.add(node.key)
        return mine
