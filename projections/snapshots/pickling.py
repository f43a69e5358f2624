"""The snapshot body: a pickle of a projection's attributes, written and read fast and read safely.

- `Pickler`: an `IndexedStore` goes out as (attribute path, its items, its
  built indexes: buckets and sort orders, or None if stale) and comes back as
  the fresh projection's own store filled with them (no rebuild; with None,
  indexes rebuilt later, once); slotted dataclasses (the views) go out as (class,
  field values) and come back without `__init__` or `__setstate__` (a
  constructor generated per class sets the slots directly: ~3 µs a view);
  `modules` collects the modules of every class written (the fingerprint).
- `Unpickler`: resolves only classes of `projections.*`, `domains.*` and
  `schemas.*`, the view constructor, and a few value types (datetime,
  Decimal, pydantic's TzInfo, set, ...): a tampered body can name nothing
  else (no functions, no os, no builtins.getattr).
"""

from __future__ import annotations

import dataclasses
import io
import operator
import pickle
from typing import Any

OURS = ("projections.", "domains.", "schemas.")
SAFE = {("datetime", n) for n in ("datetime", "date", "time", "timedelta", "timezone")} | {
    ("decimal", "Decimal"), ("copyreg", "__newobj__"), ("copyreg", "_reconstructor"), ("collections", "OrderedDict"),
    ("collections", "deque"), ("collections", "defaultdict"), ("pydantic_core._pydantic_core", "TzInfo"),
    ("uuid", "UUID"), *(("builtins", n) for n in ("set", "frozenset", "dict", "list", "tuple", "object", "int",
                                                   "float", "str", "bytes", "bool")),
}


class Pickler(pickle.Pickler):
    """Stores by path + items; slotted dataclasses (the views) as (class, field values): fast to load."""

    def __init__(self, file: io.BytesIO, stores: dict[int, str]) -> None:
        super().__init__(file, protocol=5)
        self.stores = stores
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> Any:
        path = self.stores.get(id(obj))
        return None if path is None else (path, list(obj.values()), obj.index_state())

    def reducer_override(self, obj: Any) -> Any:
        cls = type(obj)
        self.modules.add(cls.__module__)
        get = _getters.get(cls, _MISSING)
        if get is _MISSING:
            get = _getters[cls] = _getter(cls)
        return NotImplemented if get is None else (_view, (cls, get(obj)))


_MISSING = object()
_getters: dict[type, Any] = {}
_makers: dict[type, Any] = {}


def _getter(cls: type) -> Any:
    if not dataclasses.is_dataclass(cls) or "__slots__" not in vars(cls):
        return None
    names = [f.name for f in dataclasses.fields(cls)]
    get = operator.attrgetter(*names)
    return get if len(names) > 1 else (lambda obj: (get(obj),))


def _view(cls: type, values: tuple) -> Any:
    """A slotted dataclass from its field values, without __init__ (as `registry.base.updated` builds them)."""
    make = _makers.get(cls)
    if make is None:
        if _getter(cls) is None:
            raise pickle.UnpicklingError(f"{cls.__qualname__} is not a snapshot view")
        names = [f.name for f in dataclasses.fields(cls)]
        source = (f"def make({', '.join(names)}):\n    new = new_(cls)\n"
                  + "".join(f"    set_{i}(new, {n})\n" for i, n in enumerate(names)) + "    return new\n")
        scope = {"new_": object.__new__, "cls": cls,  # the slots' own setters: C calls, past the frozen __setattr__
                 **{f"set_{i}": getattr(cls, n).__set__ for i, n in enumerate(names)}}
        exec(source, scope)  # noqa: S102 - generated from the dataclass's own field names, as dataclasses does
        make = _makers[cls] = scope["make"]
    return make(*values)


class Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == (__name__, "_view") or (module, name) in SAFE:
            return super().find_class(module, name)
        if module.startswith(OURS) and isinstance(found := super().find_class(module, name), type):
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a snapshot")


