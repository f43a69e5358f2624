"""The common shape of a registry read model: tracked, idempotent, hashable.

A read model is an `IndexedStore` of immutable views plus a tracking position.
`apply(envelope, seq)` is a no-op for `seq <= position` (a redelivery or a
replayed prefix) and otherwise applies the event and moves the position in the
same synchronous step, so the two never disagree. Events a model does not use
still move its position: the position is "everything up to here was seen".

Sharing between gateway replicas: each replica holds its own instance and
rebuilds it by following `EVT` from its snapshot position (`bus.read.follow`,
driven by `projections.runner`). Every replica converges on the same state
because `apply` is a deterministic fold over the same ordered log;
`state_hash()` makes that checkable (T7). A JetStream-KV-backed shared copy
(so a new replica starts from a stored snapshot instead of sequence 1) can be
added behind the same API later.

Rebuilds: `bulk(True)` defers the store's index maintenance until `bulk(False)`
(store.py, "Bulk loading"); the projection runner brackets a catch-up with it.
Views are replaced, never mutated: `updated(view, **changes)` is
`dataclasses.replace` without its per-call field introspection and frozen
`__init__` (a function generated once per view class).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import fields
from typing import Any, ClassVar, TypeVar

import orjson

from projections.registry.store import IndexedStore, Page
from projections.tracking import Batch
from schemas import Envelope

Handler = Callable[[Any, Envelope, int], None]
V = TypeVar("V")
_KEEP = object()
_UPDATERS: dict[type, Callable[..., Any]] = {}


def updated(view: V, **changes: Any) -> V:
    """A copy of the frozen (slots) dataclass `view` with `changes` applied, like `dataclasses.replace`."""
    cls = type(view)
    update = _UPDATERS.get(cls)
    if update is None:
        update = _UPDATERS[cls] = _updater(cls)
    return update(view, **changes)


def _updater(cls: type) -> Callable[..., Any]:
    """`(view, *, field=...) -> copy`, generated per class: one keyword per field, no loop, no __init__."""
    names = [f.name for f in fields(cls)]
    source = (f"def update(view, *, {', '.join(f'{n}=KEEP' for n in names)}):\n    new = new_(cls)\n"
              + "".join(f"    set_(new, {n!r}, view.{n} if {n} is KEEP else {n})\n" for n in names)
              + "    return new\n")
    scope = {"KEEP": _KEEP, "new_": object.__new__, "set_": object.__setattr__, "cls": cls}
    exec(source, scope)  # noqa: S102 - code generated from the dataclass's own field names, as dataclasses does
    return scope["update"]


class ReadModel:
    name: ClassVar[str]
    handlers: ClassVar[dict[type, Handler]]  # event class -> method(self, envelope, seq)

    def __init__(self, store: IndexedStore) -> None:
        self.store = store
        self._position = 0

    def position(self) -> int:
        return self._position

    def apply(self, env: Envelope, seq: int) -> bool:
        """Apply one event; False if it was at or below the position (already applied)."""
        if seq <= self._position:
            return False
        handler = self.handlers.get(type(env.data))
        if handler is not None:
            handler(self, env, seq)
        self._position = seq
        return True

    def apply_batch(self, batch: Batch) -> int:
        """`apply` over the batch, in order (one loop, no per-event calls for events it does not use)."""
        applied, handlers = 0, self.handlers
        for env, seq in batch:
            if seq <= self._position:
                continue
            handler = handlers.get(type(env.data))
            if handler is not None:
                handler(self, env, seq)
            self._position = seq
            applied += 1
        return applied

    def bulk(self, on: bool) -> None:
        """Defer (True) or resume (False, rebuilding once) the store's index maintenance."""
        self.store.defer() if on else self.store.resume()

    def get(self, id: str) -> Any:
        return self.store.get(id)

    def __len__(self) -> int:
        return len(self.store)

    def _list(self, filters: dict[str, Hashable], sort: str, page_size: int, cursor: str | None) -> Page:
        return self.store.list(filters, sort=sort, page_size=page_size, cursor=cursor)

    def state_hash(self) -> str:
        """sha256 of the position and every view in id order: equal iff the models are equal."""
        digest = hashlib.sha256(f"{self.name}@{self._position}".encode())
        for id in sorted(self.store.ids()):
            digest.update(orjson.dumps(self.store.get(id), option=orjson.OPT_SORT_KEYS))
        return digest.hexdigest()


def label_values(labels: dict[str, str]) -> tuple[str, ...]:
    """A labels dict as index values: `key` (presence) and `key=value` both match."""
    return tuple(labels) + tuple(f"{k}={v}" for k, v in labels.items())
