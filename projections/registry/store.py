"""An in-memory indexed store: the shared machinery of the registry read models.

Items are immutable views keyed by id. Secondary indexes map a field value to
a bucket of ids; a bucket also keeps its ids in sort order (`SortedKeys`) for
the model's eager sorts (its default) from the start, and for any other sort
from the first list that needs it (built once, maintained from then on), so
writes pay only for the orders readers use. The unfiltered set keeps every
sort order eagerly. A list starts from the smallest matching bucket, already
in sort order, and checks the other filters on the items it walks: a page
costs O(log n + page) at a million entities (a combination of filters that
matches few items of its smallest bucket walks that bucket). Pagination is by
cursor (paging.py): page boundaries stay stable while items change elsewhere.

Bulk loading (a rebuild or a long catch-up): between `defer()` and `resume()`
`put`/`delete` touch only the items; the indexes are rebuilt once, in O(n)
after one sort per order, when `resume()` is called or when a `list` needs
them first — that list ends the deferral, so a reader during a bulk load gets
exact answers and readers never pay for more than one rebuild. When the
indexes were valid at `defer()` and few items changed since (a short
catch-up after a restored snapshot), `resume()` updates just those items'
entries instead. A snapshot may carry the built indexes (`index_state()`,
`load(items, index)`), so a restore does not rebuild them.

Guarantees: `put` and `delete` keep every bucket consistent with the items;
a sort order is total (keys end in the id); None values are not indexed
(a None filter means "no filter"); nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import islice
from typing import Generic, TypeVar

from projections.registry.buckets import Bucket, Indexer, Sorter, build, values_of
from projections.registry.paging import InvalidQuery, Page, decode_cursor, encode_cursor
from projections.registry.sortedkeys import SortedKeys, from_sorted

T = TypeVar("T")


class IndexedStore(Generic[T]):
    def __init__(self, *, key: Callable[[T], str], indexes: dict[str, Indexer], sorts: dict[str, Sorter],
                 eager: tuple[str, ...] = ()) -> None:
        self._key = key
        self._indexers = indexes
        self._sorters = sorts
        self._eager = eager or tuple(sorts)[:1]
        self._items: dict[str, T] = {}
        self._everything = Bucket(orders={name: SortedKeys() for name in sorts})
        self._buckets: dict[str, dict[Hashable, Bucket]] = {name: {} for name in indexes}
        self._deferred = False
        self._stale = False  # items changed while deferred: the indexes need a rebuild
        self._pending: dict[str, T | None] | None = {}  # deferred: id -> its item at defer() (None: rebuild all)
        self._limit = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, id: str) -> T | None:
        return self._items.get(id)

    def values(self) -> Iterable[T]:
        return self._items.values()

    def ids(self) -> Iterable[str]:
        return self._items.keys()

    def defer(self) -> None:
        """Stop maintaining indexes on writes until `resume()` (bulk loading)."""
        if not self._deferred:
            self._deferred = True
            self._pending = None if self._stale else {}
            self._limit = 1024 + len(self._items) // 16  # past it, one rebuild is cheaper than the updates

    def resume(self) -> None:
        """Maintain indexes on writes again: the changed items' entries updated, or all rebuilt (many changed)."""
        self._deferred = False
        if not self._stale:
            return
        if self._pending is None:
            self._reindex()
            return
        pending, self._pending = self._pending, {}
        for id, old in pending.items():
            self._index(id, old, self._items.get(id))
        self._stale = False

    def load(self, items: Iterable[T], index: tuple | None = None) -> None:
        """Replace every item at once (a restored snapshot), with the indexes of `index_state()` taken with them;
        without, the indexes are rebuilt on `resume()` or the first list."""
        self._items = {self._key(item): item for item in items}
        if index is not None:
            self._everything, self._buckets = index
            self._deferred = self._stale = False
        else:
            self._deferred = self._stale = True
            self._pending = None

    def index_state(self) -> tuple | None:
        """The built indexes (for a snapshot: `load(items, index)`), or None if they are stale."""
        return None if self._stale else (self._everything, self._buckets)

    def _remember(self, id: str) -> None:
        """A deferred write of `id`: keep its item as of defer() (once), to update its index entries on resume."""
        self._stale = True
        pending = self._pending
        if pending is not None and id not in pending:
            if len(pending) >= self._limit:
                self._pending = None
            else:
                pending[id] = self._items.get(id)

    def put(self, item: T) -> None:
        """Insert or replace; only the buckets whose value or sort key changed are touched."""
        id = self._key(item)
        if self._deferred:
            self._remember(id)
            self._items[id] = item
            return
        old = self._items.get(id)
        self._items[id] = item
        self._index(id, old, item)

    def delete(self, id: str) -> None:
        if id not in self._items:
            return
        if self._deferred:
            self._remember(id)
            del self._items[id]
            return
        self._index(id, self._items.pop(id), None)

    def _index(self, id: str, old: T | None, item: T | None) -> None:
        """Move `id`'s index entries from `old` to `item` (None: absent)."""
        if item is None:
            if old is not None:
                self._unindex(id, old)
            return
        after = self._keys(id, item)
        if old is None:
            self._everything.add(id, after)
            for field, indexer in self._indexers.items():
                for value in values_of(indexer(item)):
                    self._bucket(field, value).add(id, after)
            return
        before = self._keys(id, old)
        moved = before != after
        if moved:
            self._everything.drop(id, before)
            self._everything.add(id, after)
        for field, indexer in self._indexers.items():
            was, now = values_of(indexer(old)), values_of(indexer(item))
            if was == now and not moved:
                continue
            for value in was - now if not moved else was:
                self._drop(field, value, id, before)
            for value in now - was if not moved else now:
                self._bucket(field, value).add(id, after)

    def _unindex(self, id: str, old: T) -> None:
        keys = self._keys(id, old)
        self._everything.drop(id, keys)
        for field, indexer in self._indexers.items():
            for value in values_of(indexer(old)):
                self._drop(field, value, id, keys)

    def list(self, filters: dict[str, Hashable], *, sort: str, page_size: int, cursor: str | None) -> Page[T]:
        name, descending = (sort[1:], True) if sort.startswith("-") else (sort, False)
        if name not in self._sorters:
            raise InvalidQuery("sort", f"unknown sort {sort!r} (known: {', '.join(sorted(self._sorters))})")
        if page_size < 1:
            raise InvalidQuery("page_size", "must be >= 1")
        active = {f: v for f, v in filters.items() if v is not None}
        for f in active:
            if f not in self._indexers:
                raise InvalidQuery(f, "cannot filter on this field")
        after = decode_cursor(cursor)
        if self._deferred:  # a reader during a bulk load: indexes from now on, kept up to date as usual
            self.resume()
        order = self._order(self._smallest(active), name)
        walk = order.before(after) if descending else order.after(after)
        matches = self._matching(walk, active)
        try:
            page = list(islice(matches, page_size))
            more = len(page) == page_size and next(matches, None) is not None
        except TypeError:  # a cursor of another sort order: its key does not compare with these
            raise InvalidQuery("cursor", f"not a cursor of sort {sort!r}") from None
        return Page([item for _, item in page], encode_cursor(page[-1][0]) if more else None)

    def _smallest(self, active: dict[str, Hashable]) -> Bucket:
        if not active:
            return self._everything
        buckets = [self._buckets[f].get(v) for f, v in active.items()]
        return Bucket() if None in buckets else min(buckets, key=lambda b: len(b.ids))  # type: ignore

    def _order(self, bucket: Bucket, name: str) -> SortedKeys:
        if name not in bucket.orders:
            sorter = self._sorters[name]
            bucket.orders[name] = from_sorted(sorted((*sorter(self._items[id]), id) for id in bucket.ids))
        return bucket.orders[name]

    def _matching(self, walk: Iterator[tuple], active: dict[str, Hashable]) -> Iterator[tuple[tuple, T]]:
        for key in walk:
            item = self._items[key[-1]]
            if all(value in self._indexers[f](item) for f, value in active.items()):
                yield key, item

    def _reindex(self) -> None:
        self._everything, self._buckets = build(self._items, self._indexers, self._sorters, self._eager)
        self._stale = False
        self._pending = {}

    def _bucket(self, field: str, value: Hashable) -> Bucket:
        bucket = self._buckets[field].get(value)
        if bucket is None:
            bucket = self._buckets[field][value] = Bucket(orders={name: SortedKeys() for name in self._eager})
        return bucket

    def _keys(self, id: str, item: T) -> dict[str, tuple]:
        return {name: (*sorter(item), id) for name, sorter in self._sorters.items()}

    def _drop(self, field: str, value: Hashable, id: str, keys: dict[str, tuple]) -> None:
        bucket = self._buckets[field].get(value)
        if bucket is not None:
            bucket.drop(id, keys)
            if not bucket.ids:
                del self._buckets[field][value]
