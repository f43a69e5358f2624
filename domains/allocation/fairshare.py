"""Dominant-resource fairness: which queued job a pass considers next.

The tenant with the smallest dominant share goes first, where a tenant's
dominant share is the largest of its held GPUs / CPU / memory as a fraction of
the fleet's registered capacity (dimensions with no capacity are ignored).
Within a tenant, higher priority first, then submission order. Ties between
tenants break on the head job's priority, then its submission order, then the
tenant name, so the order is total and deterministic. Placing a job `charge`s
its tenant, so shares move during the pass exactly as DRF prescribes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from heapq import heapify, heappop, heappush

from domains.allocation.model import QueuedJob


class FairQueue:
    def __init__(self, jobs: Iterable[QueuedJob], usage: dict[str, list[float]], capacity: list[float]) -> None:
        stacks: dict[str, list[QueuedJob]] = {}
        for job in jobs:
            stacks.setdefault(job.tenant, []).append(job)
        for stack in stacks.values():  # popped from the end: best job last
            stack.sort(key=lambda j: (j.spec.priority, -j.seq), reverse=False)
        self._stacks = stacks
        self._used = {t: list(usage.get(t, (0.0, 0.0, 0.0))) for t in stacks}
        self._dims = [(i, c) for i, c in enumerate(capacity) if c > 0]
        self._heap = [self._key(t) for t in stacks]
        heapify(self._heap)
        self._current: str | None = None

    def share(self, tenant: str) -> float:
        used = self._used[tenant]
        top = 0.0
        for i, cap in self._dims:
            top = max(top, used[i] / cap)
        return top

    def _key(self, tenant: str) -> tuple[float, int, int, str]:
        head = self._stacks[tenant][-1]
        return (self.share(tenant), -head.spec.priority, head.seq, tenant)

    def charge(self, tenant: str, gpus: float, cpu: float, memory_gb: float) -> None:
        used = self._used[tenant]
        used[0] += gpus
        used[1] += cpu
        used[2] += memory_gb

    def __iter__(self) -> Iterator[QueuedJob]:
        return self

    def __next__(self) -> QueuedJob:
        current = self._current
        if current is not None and self._stacks[current]:
            if not self._heap:  # the only tenant left: no share to compare
                return self._stacks[current].pop()
            heappush(self._heap, self._key(current))
        if not self._heap:
            self._current = None
            raise StopIteration
        tenant = heappop(self._heap)[3]
        self._current = tenant
        return self._stacks[tenant].pop()
