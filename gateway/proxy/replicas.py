"""Which replicas serve which model, and which one takes the next request (least loaded, healthy).

Fed by the discovery watch (bus/discovery.py): `follow(registry, stop)` applies
every (key, entry | None) as it arrives. A replica is routable while
- its entry was (re)put within `ttl_s` (the bucket expires it after that too,
  but the server's expiry sweep may lag: this proxy does not wait for it), and
- this proxy has not ejected it: a replica that failed a request (connect
  error, broken response, 5xx) is skipped for `eject_s` seconds. A fresh put
  does not lift an ejection: an agent can heartbeat while its engine is down.

Load = (running + waiting as the agent last reported + this proxy's in-flight
requests to it) / max_concurrent; the least loaded wins, ties broken at
random so equal replicas share the load. The in-flight count covers the 2 s
between the agent's reports.

Scope: a key of tenant T reaches the models deployed by T and those deployed
by the platform tenant (`_platform`: shared models); T's own win a name clash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from bus.discovery import TTL_S, AgentEntry, Registry
from schemas.envelope import PLATFORM_TENANT

log = logging.getLogger("tessera.proxy.replicas")


@dataclass
class Replica:
    key: str
    entry: AgentEntry
    seen: float
    inflight: int = 0
    down_until: float = 0.0

    @property
    def load(self) -> float:
        return (self.entry.running + self.entry.waiting + self.inflight) / self.entry.max_concurrent


class Replicas:
    def __init__(self, *, ttl_s: float = TTL_S, eject_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.eject_s = eject_s
        self.clock = clock
        self._by_key: dict[str, Replica] = {}
        self._by_model: dict[tuple[str, str], dict[str, Replica]] = {}  # (tenant, model) -> key -> replica
        self.ready = asyncio.Event()  # set once the watch delivered the bucket's current entries

    def update(self, key: str, entry: AgentEntry | None) -> None:
        old = self._by_key.get(key)
        if old is not None and (entry is None or (old.entry.tenant, old.entry.model) != (entry.tenant, entry.model)):
            self._by_model.get((old.entry.tenant, old.entry.model), {}).pop(key, None)
            del self._by_key[key]
            old = None
        if entry is None:
            return
        if old is None:
            replica = Replica(key, entry, self.clock())
            self._by_key[key] = replica
            self._by_model.setdefault((entry.tenant, entry.model), {})[key] = replica
        else:
            old.entry, old.seen = entry, self.clock()

    async def follow(self, registry: Registry, stop: asyncio.Event) -> None:
        """Apply the watch until `stop`; a broken watch is reopened (the fresh one re-sends every entry)."""
        while not stop.is_set():
            try:
                watcher = registry.watch(on_current=self.ready.set)
                async for key, entry in _until(watcher, stop):
                    self.update(key, entry)
            except Exception as exc:  # noqa: BLE001 - the next watch starts from the current values
                log.warning("discovery watch failed (%s: %s); reopening", type(exc).__name__, exc)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)

    def models(self, tenant: str) -> list[AgentEntry]:
        """One live entry per model this tenant reaches (its own first)."""
        seen: dict[str, AgentEntry] = {}
        for owner in (tenant, PLATFORM_TENANT):
            for (t, model), group in self._by_model.items():
                if t == owner and model not in seen:
                    live = [r for r in group.values() if self._live(r)]
                    if live:
                        seen[model] = live[0].entry
        return list(seen.values())

    def pick(self, tenant: str, model: str, exclude: set[str] = frozenset()) -> Replica | None:
        for owner in (tenant, PLATFORM_TENANT):
            group = self._by_model.get((owner, model))
            if not group:
                continue
            now = self.clock()
            usable = [r for r in group.values() if r.key not in exclude and self._healthy(r, now)]
            if usable:
                return min(usable, key=lambda r: (r.load, random.random()))
            if any(self._live(r, now) for r in group.values()):
                return None  # the tenant's own replicas are all busy failing: never fall through to another's
        return None

    def serves(self, tenant: str, model: str) -> bool:
        return any(self._live(r) for owner in (tenant, PLATFORM_TENANT)
                   for r in self._by_model.get((owner, model), {}).values())

    def eject(self, replica: Replica) -> None:
        replica.down_until = self.clock() + self.eject_s

    @contextlib.contextmanager
    def using(self, replica: Replica):
        replica.inflight += 1
        try:
            yield replica
        finally:
            replica.inflight -= 1

    def _live(self, replica: Replica, now: float | None = None) -> bool:
        return (now if now is not None else self.clock()) - replica.seen <= self.ttl_s

    def _healthy(self, replica: Replica, now: float) -> bool:
        return now - replica.seen <= self.ttl_s and now >= replica.down_until


async def _until(iterator, stop: asyncio.Event):
    """The items of an async iterator until `stop` is set (closing the iterator)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            step = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({step, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if step not in done:
                step.cancel()
                with contextlib.suppress(BaseException):
                    await step
                return
            try:
                yield step.result()
            except StopAsyncIteration:
                return
    finally:
        stopping.cancel()
        with contextlib.suppress(BaseException):
            await iterator.aclose()
