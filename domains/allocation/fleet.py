"""Fleet state for the placement engine, rebuilt in memory from registry and job events.

`Fleet.apply(event)` folds one event in (handlers in `fleet_events.py` and
`job_events.py`, one singledispatch registration per event type; events of
other types are ignored, so the fleet can follow a whole stream).

Why mutable: the kernel must re-fold 100,000-job histories and run passes over
10,000 nodes in seconds; copying node maps on every event (the immutable-state
style of the other domains) would cost O(nodes) per event. Determinism is kept
instead by construction: state is a pure function of the event sequence (dicts
iterate in insertion order, ties break on registration ordinal, no sets are
iterated), `snapshot()` exposes it as plain data for replay-equivalence tests,
and `place()`/`explain()` work on a `clone()`, never on the fleet passed in.

Delivery contract: events arrive in stream order (the placer follows EVT with an
ordered consumer). An event repeated right after itself is absorbed, and so is
a late placement or queueing of a job that has ended; other out-of-order
deliveries (a stale requeue after a newer placement) are not detectable here:
events carry no per-job order beyond the stream's.

Invariants (checked before any change; a violating event raises and changes
nothing): a GPU index is held by at most one job; every held index is below the
node's GPU count, so allocated <= capacity on every node.
"""

from __future__ import annotations

from typing import Any

from domains.allocation.fleet_events import apply_event
from domains.allocation.index import FreeIndex
from domains.allocation.model import DEFAULT_TENANT, Node, QueuedJob, Running
from schemas.base import Event


class Fleet:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.by_ord: list[Node | None] = []
        self.index = FreeIndex(self.by_ord)
        self.running: dict[str, Running] = {}
        self.queued: dict[str, QueuedJob] = {}
        self.usage: dict[str, list[float]] = {}  # tenant -> [gpus, cpu, memory_gb] held
        self.capacity = [0.0, 0.0, 0.0]  # registered gpus, cpu, memory_gb
        self.preemptible: dict[int, int] = {}  # priority -> running preemptible jobs
        self.seq = 0  # counts queued/placed jobs: submission and placement order
        # jobs that reached a terminal state: a JobPlaced/JobQueued redelivered after the end is
        # history, not a claim. Shared (not copied) by clones: a placement pass never ends a job.
        self.ended: set[str] = set()

    def apply(self, event: Event, *, tenant: str = DEFAULT_TENANT) -> Fleet:
        """Fold `event` in (the tenant comes from its envelope); returns self for chaining."""
        apply_event(event, self, tenant)
        return self

    def queue(self) -> list[QueuedJob]:
        """The queued jobs in submission order."""
        return list(self.queued.values())

    def clone(self) -> Fleet:
        twin = Fleet.__new__(Fleet)
        twin.nodes = {key: node.copy() for key, node in self.nodes.items()}
        twin.by_ord = [None if n is None else twin.nodes[n.key] for n in self.by_ord]
        twin.index = self.index.copy(twin.by_ord)
        twin.running = dict(self.running)
        twin.queued = dict(self.queued)
        twin.usage = {t: list(u) for t, u in self.usage.items()}
        twin.capacity = list(self.capacity)
        twin.preemptible = dict(self.preemptible)
        twin.seq = self.seq
        twin.ended = self.ended
        return twin

    def snapshot(self) -> dict[str, Any]:
        """Everything that decides placements, as plain comparable data."""
        return {
            "nodes": {k: (n.ordinal, n.spec.model_dump(), tuple(n.free), dict(n.allocs), n.cordoned,
                          n.draining, n.lost) for k, n in self.nodes.items()},
            "running": dict(self.running),
            "queued": {k: (q.tenant, q.seq, q.spec, q.held) for k, q in self.queued.items()},
            "usage": {t: tuple(u) for t, u in self.usage.items() if any(u)},
            "capacity": tuple(self.capacity),
            "preemptible": {p: c for p, c in self.preemptible.items() if c},
        }

    # --- primitives used by the event handlers and the placement pass ---------

    def take(self, node: Node, job_id: str, count: int) -> tuple[int, ...]:
        """Give `job_id` the `count` lowest free GPUs of `node` (the caller checked they exist)."""
        taken = tuple(node.free[:count])
        del node.free[:count]
        node.allocs[job_id] = node.allocs.get(job_id, ()) + taken
        self.index.touch(node)
        return taken

    def give_back(self, node: Node, job_id: str) -> None:
        held = node.allocs.pop(job_id, ())
        if held:
            node.free.extend(held)
            node.free.sort()
            self.index.touch(node)

    def charge(self, tenant: str, gpus: float, cpu: float, memory_gb: float, sign: int = 1) -> None:
        used = self.usage.setdefault(tenant, [0.0, 0.0, 0.0])
        used[0] += sign * gpus
        used[1] += sign * cpu
        used[2] += sign * memory_gb
