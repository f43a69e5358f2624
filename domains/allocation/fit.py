"""Where a job's members fit on the current free capacity: a plan of nodes, or None.

Plain shapes (one member, no pool/platform/label/memory constraint) are answered
by the bucket index in O(K log n). Everything else scans the nodes eligible for
the shape (computed once per shape and pass, see `Eligible`): members are
assigned one at a time to the fullest (binpack) or emptiest (spread) node that
still has room, ties on registration order. A gang is all or nothing: it is
planned in full before any GPU is taken, within one GPU model, and with
`same_rack` within one rack (the tightest fitting rack for binpack, the
roomiest for spread).
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from domains.allocation.constraints import CHECKS, Shape
from domains.allocation.fleet import Fleet
from domains.allocation.model import Node

UNBOUNDED = 1 << 30
Plan = list[Node]  # one node per member, in member order


def static_key(shape: Shape) -> tuple:
    return (shape.model, shape.min_memory_gb, shape.pool, shape.platform, shape.selector, shape.nvlink, shape.gpus > 0)


class Eligible:
    """Nodes passing every static constraint of a shape, cached per pass (schedulability cannot change mid-pass)."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self._cache: dict[tuple, list[Node]] = {}

    def __call__(self, shape: Shape) -> list[Node]:
        key = static_key(shape)
        found = self._cache.get(key)
        if found is None:
            checks = [check for _, check in CHECKS]
            found = self._cache[key] = [n for n in self._fleet.nodes.values()
                                        if all(check(n, shape) is None for check in checks)]
        return found


def groups(nodes: list[Node], shape: Shape) -> dict[tuple, list[Node]]:
    """Nodes a whole gang may share: one GPU model, and one rack when `same_rack`."""
    out: dict[tuple, list[Node]] = {}
    for n in nodes:
        rack = n.spec.rack if shape.same_rack else None
        if shape.same_rack and rack is None:
            continue
        out.setdefault((n.model if shape.gang > 1 else None, rack), []).append(n)
    return out


def members_fitting(nodes: list[Node], gpus: int) -> int:
    if not gpus:  # CPU-only members: any eligible node takes any number of them
        return UNBOUNDED if nodes else 0
    return sum(len(n.free) // gpus for n in nodes)


def _assign(nodes: list[Node], shape: Shape, spread: bool) -> Plan:
    g = shape.gpus
    sign = -1 if spread else 1
    heap = [(sign * len(n.free), n.ordinal, n) for n in nodes if len(n.free) >= g]
    heapify(heap)
    plan: Plan = []
    while len(plan) < shape.gang and heap:
        free, ordinal, node = heappop(heap)
        plan.append(node)
        left = sign * free - g  # simulated: nothing is taken until the whole plan exists
        if left >= g:
            heappush(heap, (sign * left, ordinal, node))
    return plan if len(plan) == shape.gang else []


def plan(fleet: Fleet, shape: Shape, eligible: Eligible, spread: bool) -> Plan | None:
    if shape.plain:
        node = fleet.index.best(shape.model, shape.gpus, shape.nvlink, spread)
        return [node] if node is not None else None
    fitting = [(g, ns) for g, ns in groups(eligible(shape), shape).items()
               if members_fitting(ns, shape.gpus) >= shape.gang]
    if not fitting:
        return None
    if len(fitting) > 1:  # tightest (binpack) or roomiest (spread) group, then earliest node
        fitting.sort(key=lambda item: ((-1 if spread else 1) * sum(len(n.free) for n in item[1]),
                                       item[1][0].ordinal))
    return _assign(fitting[0][1], shape, spread) or None
