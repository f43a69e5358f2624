"""Snapshot format: a header (format, fingerprint, log, position) + a pickle body (pickling.py).

`capture(projection, stream, covered)` -> bytes; `restore(projection, blob,
stream, end)` -> the position, or None — the projection left reset — for a
snapshot it must not trust (`compatible` says why): another `FORMAT`,
another fold (the fingerprint hashes the source of every module whose
classes are in the state, and the projection's own), another log (`stream`:
the EVT stream's name and creation time; a recreated stream is another log),
a position past the log's end, or a body that does not unpickle.
`covered` is the runner's position at capture: every event of the
projection's aggregates up to it is in the state (its own position may be
lower: events of other aggregates are not handed to it).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from projections.registry.store import IndexedStore
from projections.snapshots.pickling import OURS, Pickler, Unpickler

log = logging.getLogger("tessera.snapshots")
FORMAT = 2  # 2: stores carry their built indexes
MAGIC = b"TSNAP"


def snapshottable(projection: Any) -> bool:
    """In-memory projections with a state hash (registry, identity) or that ask for it (`snapshot = True`)."""
    return getattr(projection, "snapshot", hasattr(projection, "state_hash")) and not getattr(
        projection, "blocking", False)


def stream_id(info: Any) -> str:
    """The identity of a stream's log: its name and creation time (a recreated stream is another log)."""
    created = getattr(info, "created", None)
    return f"{info.config.name}@{created.isoformat() if created else '?'}"


def capture(projection: Any, stream: str, covered: int | None = None) -> bytes:
    """The snapshot; `covered`: the sequence up to which every event of its aggregates is in the state
    (the runner's position, which can be past the projection's own: events of other aggregates)."""
    buffer = io.BytesIO()
    pickler = Pickler(buffer, {id(v): path for path, v in _stores(projection)})
    enabled = gc.isenabled()
    gc.disable()  # the memo and the value tuples are short-lived and acyclic
    try:
        pickler.dump(_state(projection))
    finally:
        if enabled:
            gc.enable()
    ours = sorted(m for m in pickler.modules if m.startswith(OURS))
    header = {"format": FORMAT, "name": projection.name, "class": _qualname(type(projection)),
              "position": max(projection.position(), covered or 0), "stream": stream, "modules": ours,
              "fingerprint": fingerprint(type(projection), ours), "taken_at": time.time()}
    head = orjson.dumps(header)
    return MAGIC + len(head).to_bytes(4, "big") + head + buffer.getvalue()


def header(blob: bytes) -> dict | None:
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 4:
        return None
    size = int.from_bytes(blob[len(MAGIC):len(MAGIC) + 4], "big")
    try:
        head = orjson.loads(blob[len(MAGIC) + 4:len(MAGIC) + 4 + size])
    except orjson.JSONDecodeError:
        return None
    return head if isinstance(head, dict) else None


def compatible(projection: Any, head: dict | None, stream: str, end: int | None = None) -> str | None:
    """Why this snapshot must not be loaded into `projection` (None: it may)."""
    if head is None:
        return "not a snapshot"
    if head.get("format") != FORMAT:
        return f"format {head.get('format')} (this code reads {FORMAT})"
    if head.get("class") != _qualname(type(projection)) or head.get("name") != projection.name:
        return f"a snapshot of {head.get('class')}"
    if head.get("stream") != stream:
        return f"taken from another log ({head.get('stream')})"
    if end is not None and head.get("position", 0) > end:
        return f"position {head.get('position')} is past the log's end {end}"
    modules = head.get("modules")
    if not isinstance(modules, list) or head.get("fingerprint") != fingerprint(type(projection), modules):
        return "taken by another version of the code (fingerprint differs)"
    return None


def restore(projection: Any, blob: bytes, stream: str, end: int | None = None) -> int | None:
    """Load the snapshot into `projection` (reset first); its position, or None if refused (left reset)."""
    projection.reset()
    head = header(blob)
    if (why := compatible(projection, head, stream, end)) is not None:
        log.info("%s: snapshot ignored: %s", projection.name, why)
        return None
    stores = dict(_stores(projection))
    unpickler = Unpickler(io.BytesIO(memoryview(blob)[_body_start(blob):]))

    def persistent_load(pid: Any) -> IndexedStore:
        path, items, index = pid
        store = stores[path]
        store.load(items, index)
        return store

    unpickler.persistent_load = persistent_load  # type: ignore[method-assign]
    enabled = gc.isenabled()  # many new long-lived objects: the cyclic collector would walk them over and over
    gc.disable()
    try:
        state = unpickler.load()
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign body: refused like any other incompatible snapshot
        projection.reset()
        log.warning("%s: snapshot unreadable (%s: %s); rebuilding from zero", projection.name, type(exc).__name__, exc)
        return None
    finally:
        if enabled:
            gc.enable()  # no full collection: a snapshot's objects are acyclic views, nothing to free
    vars(projection).update(state)
    return int(head["position"])


def fingerprint(cls: type, modules: Iterable[str]) -> str:
    digest = hashlib.sha256(f"{FORMAT}:{_qualname(cls)}".encode())
    for name in sorted({cls.__module__, *modules}):
        module = sys.modules.get(name)
        if module is None:
            with contextlib.suppress(ImportError):
                module = __import__(name, fromlist=["_"])
        source = getattr(module, "__file__", None)
        digest.update(name.encode() + b"\0" + (Path(source).read_bytes() if source else b"?"))
    return digest.hexdigest()


def _body_start(blob: bytes) -> int:
    return len(MAGIC) + 4 + int.from_bytes(blob[len(MAGIC):len(MAGIC) + 4], "big")


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _state(projection: Any) -> dict:
    return {k: v for k, v in vars(projection).items() if not callable(v) or isinstance(v, IndexedStore)}


def _stores(obj: Any, prefix: str = "", seen: set | None = None) -> Iterable[tuple[str, IndexedStore]]:
    """(path, store) for every IndexedStore in `obj`'s attributes and in the read models among them."""
    seen = set() if seen is None else seen
    for name, value in vars(obj).items():
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, IndexedStore):
            yield prefix + name, value
        elif hasattr(value, "__dict__") and isinstance(getattr(value, "store", None), IndexedStore):
            yield from _stores(value, f"{prefix}{name}.", seen)


