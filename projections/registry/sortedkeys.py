"""An ordered set of unique sort keys, in chunks: O(log n) insert, delete and seek.

The layout of sortedcontainers' SortedList (a list of sorted chunks plus each
chunk's maximum), cut down to what cursor pagination needs: `add`, `discard`,
and iteration strictly after (or before) a key. Keys are tuples ending in the
entity id, so they are unique and totally ordered.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any

LOAD = 512


class SortedKeys:
    __slots__ = ("_chunks", "_maxes", "_len")

    def __init__(self) -> None:
        self._chunks: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def add(self, key: Any) -> None:
        if not self._chunks:
            self._chunks.append([key])
            self._maxes.append(key)
        else:
            i = bisect_left(self._maxes, key)
            if i == len(self._maxes):
                i -= 1
                self._chunks[i].append(key)
                self._maxes[i] = key
            else:
                insort(self._chunks[i], key)
            chunk = self._chunks[i]
            if len(chunk) > 2 * LOAD:
                self._chunks[i:i + 1] = [chunk[:LOAD], chunk[LOAD:]]
                self._maxes[i:i + 1] = [chunk[LOAD - 1], chunk[-1]]
        self._len += 1

    def discard(self, key: Any) -> None:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return
        chunk = self._chunks[i]
        j = bisect_left(chunk, key)
        if j == len(chunk) or chunk[j] != key:
            return
        del chunk[j]
        self._len -= 1
        if not chunk:
            del self._chunks[i]
            del self._maxes[i]
        elif j == len(chunk):
            self._maxes[i] = chunk[-1]

    def after(self, key: Any = None) -> Iterator[Any]:
        """Keys strictly greater than `key` (all keys if None), ascending."""
        i, j = (0, 0) if key is None else self._seek(key, bisect_right)
        for chunk in self._chunks[i:]:
            yield from chunk[j:] if j else chunk
            j = 0

    def before(self, key: Any = None) -> Iterator[Any]:
        """Keys strictly smaller than `key` (all keys if None), descending."""
        if key is None:
            i, j = len(self._chunks) - 1, None
        else:
            i, j = self._seek(key, bisect_left)
        while i >= 0 and self._chunks:
            chunk = self._chunks[i]
            stop = len(chunk) if j is None else j
            yield from reversed(chunk[:stop])
            i, j = i - 1, None

    def _seek(self, key: Any, side) -> tuple[int, int]:
        i = bisect_left(self._maxes, key)
        if i == len(self._maxes):
            return (i, 0) if side is bisect_right else (i - 1, None)  # type: ignore[return-value]
        return i, side(self._chunks[i], key)


def from_sorted(keys: list[Any]) -> SortedKeys:
    """A SortedKeys holding `keys` (already sorted, unique), built in O(n)."""
    out = SortedKeys()
    out._chunks = [keys[i:i + LOAD] for i in range(0, len(keys), LOAD)]
    out._maxes = [chunk[-1] for chunk in out._chunks]
    out._len = len(keys)
    return out
