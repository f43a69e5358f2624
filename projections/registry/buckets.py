"""Index buckets and building every index at once (the bulk-load path of store.py).

A `Bucket` holds the ids found under one index value, and their keys in each
sort order that is kept for it. `build(items, indexers, sorters, eager)` makes
the unfiltered bucket (every sort order) and one bucket per index value (the
`eager` orders) from scratch: one sort of the whole set per order, then each
bucket filled by walking that order, so its keys arrive already sorted (O(n)
per order after the sort, no per-bucket sorting).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from projections.registry.sortedkeys import SortedKeys, from_sorted

Indexer = Callable[[Any], Iterable[Hashable]]  # item -> the values it is found under
Sorter = Callable[[Any], tuple]  # item -> sort key (the id is appended)


@dataclass
class Bucket:
    ids: set[str] = dataclass_field(default_factory=set)
    orders: dict[str, SortedKeys] = dataclass_field(default_factory=dict)  # sort name -> keys, once listed

    def add(self, id: str, keys: dict[str, tuple]) -> None:
        self.ids.add(id)
        for name, order in self.orders.items():
            order.add(keys[name])

    def drop(self, id: str, keys: dict[str, tuple]) -> None:
        self.ids.discard(id)
        for name, order in self.orders.items():
            order.discard(keys[name])


def values_of(values: Iterable[Hashable]) -> set[Hashable]:
    """The index values of an item (None is not indexed)."""
    return {v for v in values if v is not None}


def build(items: dict[str, Any], indexers: dict[str, Indexer], sorters: dict[str, Sorter],
          eager: tuple[str, ...]) -> tuple[Bucket, dict[str, dict[Hashable, Bucket]]]:
    """(the unfiltered bucket, field -> value -> bucket) for `items`, as the incremental writes would leave them."""
    keys = {name: sorted((*sorter(item), id) for id, item in items.items()) for name, sorter in sorters.items()}
    everything = Bucket(set(items), {name: from_sorted(k) for name, k in keys.items()})
    members: dict[str, dict[Hashable, list[str]]] = {field: {} for field in indexers}
    for id, item in items.items():
        for field, indexer in indexers.items():
            for value in values_of(indexer(item)):
                members[field].setdefault(value, []).append(id)
    buckets = {field: {value: Bucket(set(ids)) for value, ids in values.items()} for field, values in members.items()}
    for name in eager:  # walk the global order once, appending to each bucket: already sorted
        ordered: dict[tuple[str, Hashable], list] = {}
        for key in keys[name]:
            item = items[key[-1]]
            for field, indexer in indexers.items():
                for value in values_of(indexer(item)):
                    ordered.setdefault((field, value), []).append(key)
        for (field, value), bucket_keys in ordered.items():
            buckets[field][value].orders[name] = from_sorted(bucket_keys)
    return everything, buckets
