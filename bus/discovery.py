"""Discovery of inference replicas: the JetStream KV bucket `tessera_agents` (agents write, proxies read).

Contract (agents: adapters/agent; readers: gateway/proxy):
- Key `<tenant>.<deployment>.<replica>.<generation>`; value = `AgentEntry` as JSON.
- An agent puts its entry every `HEARTBEAT_S` (2 s) with its live load and
  deletes its key on shutdown. The bucket keeps one revision per key and
  `max_age` = `TTL_S` (10 s): a silent agent's entry expires on its own and the
  server leaves a delete marker (`limit_marker_ttl`), so every watcher sees
  the replica disappear (as `(key, None)`) within TTL_S plus the server's
  expiry sweep. Readers should still treat an entry not refreshed for TTL_S as
  gone (`Registry.watch` yields what the bucket says; ageing is the reader's).
- `open_registry(js)` creates the bucket if it is missing (idempotent: the same
  config twice is a no-op on the server), else binds to it.

Liveness is the KV TTL rather than the NATS service API: a proxy gets the
whole current set plus every change from one watch (no scatter-gather
polling), and a replica crashing without deregistering still vanishes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import orjson
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue
from pydantic import AwareDatetime, Field

from schemas.values import Value

BUCKET = "tessera_agents"
TTL_S = 10.0
HEARTBEAT_S = 2.0
MARKER_TTL_S = 5.0  # how long the server keeps an expiry marker (watchers started later do not need it)


class AgentEntry(Value):
    tenant: str
    deployment: str
    model: str
    replica: int = Field(ge=0)
    generation: int = Field(ge=1)
    url: str  # http base of the engine's OpenAI API, e.g. http://127.0.0.1:8000 (no /v1)
    engine: str
    running: int = Field(default=0, ge=0)
    waiting: int = Field(default=0, ge=0)
    kv_cache: float = Field(default=0.0, ge=0)
    max_concurrent: int = Field(default=1, ge=1)
    updated: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))

    @property
    def key(self) -> str:
        return entry_key(self.tenant, self.deployment, self.replica, self.generation)


def entry_key(tenant: str, deployment: str, replica: int, generation: int) -> str:
    return f"{tenant}.{deployment}.{replica}.{generation}"


class Registry:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def put(self, entry: AgentEntry) -> int:
        return await self.kv.put(entry.key, orjson.dumps(entry.model_dump(mode="json")))

    async def delete(self, key: str) -> None:
        await self.kv.delete(key)

    async def get(self, key: str) -> AgentEntry | None:
        try:
            found = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        return None if found.value is None or not found.value else AgentEntry.model_validate_json(found.value)

    async def entries(self) -> list[AgentEntry]:
        out = []
        async for key, entry in self._watch(once=True):
            if entry is not None:
                out.append(entry)
        return out

    def watch(self, on_current: Callable[[], None] | None = None) -> AsyncIterator[tuple[str, AgentEntry | None]]:
        """Every current entry, then every change: (key, entry), or (key, None) when it went away.

        `on_current()` is called once the entries present at the start have all
        been yielded. A value that does not parse as an AgentEntry is reported as
        (key, None): a replica nobody can route to is a replica that is not there.
        """
        return self._watch(once=False, on_current=on_current)

    async def _watch(self, *, once: bool, on_current: Callable[[], None] | None = None,
                     ) -> AsyncIterator[tuple[str, AgentEntry | None]]:
        watcher = await self.kv.watchall()
        try:
            async for item in watcher:
                if item is None:  # the initial values have all been delivered
                    if on_current is not None:
                        on_current()
                    if once:
                        return
                    continue
                yield item.key, _parse(item)
        finally:
            with contextlib.suppress(Exception):  # the connection may already be closed
                await watcher.stop()


def _parse(item) -> AgentEntry | None:
    if item.operation in (KV_DEL, KV_PURGE) or not item.value:
        return None
    try:
        return AgentEntry.model_validate_json(item.value)
    except ValueError:
        return None


async def open_registry(js: JetStreamContext, *, bucket: str = BUCKET, ttl_s: float = TTL_S,
                        storage: StorageType = StorageType.FILE) -> Registry:
    try:
        return Registry(await js.key_value(bucket))
    except BucketNotFoundError:
        pass
    config = KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s, storage=storage, limit_marker_ttl=MARKER_TTL_S)
    return Registry(await js.create_key_value(config))
