"""The free-capacity index: schedulable nodes bucketed by (GPU model, NVLink, free GPU count).

`buckets[(model, has_nvlink)][k]` is a min-heap of `ordinal << 32 | version`
entries for the nodes with exactly `k` free GPUs. Finding the fullest (binpack)
or emptiest (spread) node with at least `g` free GPUs jumps (through a bitmask
of non-empty buckets) to the top of the first non-empty heap: O(log n) per
search, O(K) at worst with K the GPUs per node, instead of a scan of every node.
Entries are not removed eagerly: a node's `version` changes with every update
and a heap top whose version is stale is dropped when it is met (lazy
deletion), so each update costs one push; when stale entries outnumber twice
the nodes, the index is rebuilt from the nodes (amortised O(1) per update). Among equally good
nodes the lowest ordinal (earliest registered) wins, so results never depend on
hashing or timing.
"""

from __future__ import annotations

from heapq import heappop, heappush

from domains.allocation.model import Node

MASK = (1 << 32) - 1
Key = tuple[str, bool]


class FreeIndex:
    __slots__ = ("_keys", "buckets", "by_ord", "entries", "masks")

    def __init__(self, by_ord: list[Node | None]) -> None:
        self.by_ord = by_ord
        self.buckets: dict[Key, list[list[int]]] = {}
        # bit k set: bucket k may be non-empty (cleared when found empty), so a
        # search jumps straight to the next candidate count instead of trying each
        self.masks: dict[Key, int] = {}
        self._keys: dict[tuple[str | None, bool], list[Key]] = {}
        self.entries = 0

    def copy(self, by_ord: list[Node | None]) -> FreeIndex:
        twin = FreeIndex(by_ord)
        twin.buckets = {key: [list(h) for h in heaps] for key, heaps in self.buckets.items()}
        twin.masks = dict(self.masks)
        twin.entries = self.entries
        return twin

    def touch(self, node: Node) -> None:
        """Record that `node` changed (free GPUs or schedulability): re-file it under its new bucket."""
        node.version = (node.version + 1) & MASK
        if self.entries > 2 * len(self.by_ord) + 64:
            self._compact()
        self._file(node)

    def _compact(self) -> None:
        """Drop every stale entry at once (amortised O(1) per touch): the index stays O(nodes)."""
        self.buckets = {}
        self.masks = {}
        self._keys.clear()
        self.entries = 0
        for node in self.by_ord:
            if node is not None:
                self._file(node)

    def _file(self, node: Node) -> None:
        k = len(node.free)
        model = node.model
        if k and model is not None and node.schedulable:
            key = (model, node.spec.nvlink_domain is not None)
            heaps = self.buckets.get(key)
            if heaps is None:
                heaps = self.buckets[key] = []
                self._keys.clear()
            while len(heaps) <= k:
                heaps.append([])
            heappush(heaps[k], node.ordinal << 32 | node.version)
            self.entries += 1
            self.masks[key] = self.masks.get(key, 0) | 1 << k

    def _top(self, heap: list[int]) -> Node | None:
        by_ord = self.by_ord
        while heap:
            entry = heap[0]
            node = by_ord[entry >> 32]
            if node is not None and node.version == entry & MASK:
                return node
            heappop(heap)
            self.entries -= 1
        return None

    def keys(self, model: str | None, nvlink: bool) -> list[Key]:
        found = self._keys.get((model, nvlink))
        if found is None:
            found = self._keys[(model, nvlink)] = sorted(
                k for k in self.buckets if (model is None or k[0] == model) and (k[1] or not nvlink))
        return found

    def best(self, model: str | None, gpus: int, nvlink: bool, spread: bool) -> Node | None:
        """The fullest (or, with `spread`, emptiest) schedulable node with >= `gpus` free GPUs."""
        best: Node | None = None
        best_rank = (0, 0)
        for key in self.keys(model, nvlink):
            node, k = self._first(key, gpus, spread)
            if node is not None:
                rank = (-k if spread else k, node.ordinal)
                if best is None or rank < best_rank:
                    best, best_rank = node, rank
        return best

    def _first(self, key: Key, gpus: int, spread: bool) -> tuple[Node | None, int]:
        """The first valid node at the smallest (or largest) free count >= gpus under `key`."""
        heaps = self.buckets[key]
        mask = self.masks[key] >> gpus << gpus
        while mask:
            k = mask.bit_length() - 1 if spread else (mask & -mask).bit_length() - 1
            node = self._top(heaps[k])
            if node is not None:
                return node, k
            mask &= ~(1 << k)
            self.masks[key] &= ~(1 << k)
        return None, 0

    def max_free(self, model: str | None, nvlink: bool) -> int:
        return max((self._first(key, 1, True)[1] for key in self.keys(model, nvlink)), default=0)
