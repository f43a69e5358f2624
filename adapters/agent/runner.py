"""The agent's life: start the engine, wait until healthy, register, beat with live load, leave cleanly.

1. `engine.check` (model known, program installed), then the engine starts on
   a free loopback port (adapters/agent/process.py).
2. Health: GET `health_path` every 0.5 s until 200, within the engine's
   `startup_timeout`. The engine exiting first, or the time running out, is a
   failed start: ReportReplicaLost(reason), the engine is stopped, exit 1 with
   the reason on stderr.
3. Healthy: the entry is put in `tessera_agents` (bus/discovery.py) and
   ReportReplicaReady(endpoint=url) goes to CMD (retried every beat until
   JetStream stored it).
4. Every `interval` (2 s): GET `metrics_path` -> load -> re-put the entry (the
   put is the heartbeat: an agent that stops putting expires from routing
   within the bucket's TTL, 10 s). `unhealthy_after` failed reads in a row
   delete the entry and report the replica lost; the next good read puts it
   back and reports it ready again. A failed put is retried next beat (the
   TTL bounds how stale routing can get).
5. The engine exiting on its own: entry deleted, ReportReplicaLost("engine
   exited with code N"), exit 1.
6. `stop` set (SIGTERM): entry deleted first (no new requests), requests in
   flight get `drain_timeout` to finish, the engine is stopped (SIGTERM, then
   SIGKILL after `stop_grace`), ReportReplicaLost("agent stopped"), exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import httpx

from adapters.agent.engine import Engine, EngineError, free_port
from adapters.agent.metrics import Load, parse_load
from adapters.agent.process import EngineProcess
from adapters.agent.reports import AgentConfig, Reports, entry
from bus.discovery import Registry, entry_key

log = logging.getLogger("tessera.agent")
HEALTH_POLL_S = 0.5


class Agent:
    def __init__(self, config: AgentConfig, engine: Engine, registry: Registry, reports: Reports,
                 env: dict[str, str] | None = None) -> None:
        self.config, self.engine, self.registry, self.reports = config, engine, registry, reports
        self.env = env
        self.key = entry_key(config.tenant, config.deployment, config.replica, config.generation)
        self.url = ""
        self.process: EngineProcess | None = None
        self.load = Load()
        self.failure: str | None = None  # why run() returned 1, for the command to print

    async def run(self, stop: asyncio.Event) -> int:
        c = self.config
        try:
            self.engine.check(c.model, list(c.engine_args))
        except EngineError as exc:
            return await self._fail(f"engine {self.engine.name} cannot serve {c.model}: {exc}")
        port = c.port or free_port(c.probe_host)
        self.url = c.url(port)
        self.process = EngineProcess(self.engine.command(c.model, c.host, port, list(c.engine_args)))
        try:
            await self.process.start(self.env)
        except OSError as exc:
            return await self._fail(f"cannot start {self.process.argv[0]!r}: {exc.strerror or exc}")
        async with httpx.AsyncClient(base_url=f"http://{c.probe_host}:{port}", timeout=5.0) as http:
            try:
                problem = await self._healthy(http, stop)
                if problem is not None:
                    return await self._fail(problem)
                if stop.is_set():
                    return await self._leave(http, "agent stopped before the engine was ready")
                return await self._serve(http, stop)
            finally:
                await self.process.stop(c.stop_grace)

    async def _healthy(self, http: httpx.AsyncClient, stop: asyncio.Event) -> str | None:
        timeout = self.config.startup_timeout or self.engine.startup_timeout
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            if self.process.returncode is not None:
                return f"engine exited with code {self.process.returncode} before it was healthy"
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(self.engine.health_path, timeout=2.0)).status_code == 200:
                    return None
            if time.monotonic() >= deadline:
                return f"engine not healthy within {timeout:g}s (GET {self.engine.health_path} on {self.url})"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), HEALTH_POLL_S)
        return None

    async def _serve(self, http: httpx.AsyncClient, stop: asyncio.Event) -> int:
        c = self.config
        self.load = await self._read_load(http) or Load()
        registered = await self._put()
        announced = await self._announce(registered)
        log.info("replica %s ready at %s", self.key, self.url)
        failures = 0
        stopped, exited = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.process.wait())
        try:
            while True:
                await asyncio.wait({stopped, exited}, timeout=c.interval, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    return await self._leave(http, "agent stopped")
                if exited.done():
                    await self._delete()
                    return await self._fail(f"engine exited with code {self.process.returncode}")
                load = await self._read_load(http)
                if load is None:
                    failures += 1
                    if failures == c.unhealthy_after and announced:
                        await self._delete()
                        registered = announced = False
                        await self._report_lost(f"engine unhealthy: {failures} metrics reads failed in a row")
                    continue
                failures, self.load = 0, load
                registered = await self._put()
                announced = announced or await self._announce(registered)
        finally:
            for task in (stopped, exited):
                task.cancel()

    async def _read_load(self, http: httpx.AsyncClient) -> Load | None:
        try:
            response = await http.get(self.engine.metrics_path, timeout=2.0)
        except httpx.HTTPError:
            return None
        return parse_load(response.text) if response.status_code == 200 else None

    async def _put(self) -> bool:
        try:
            await self.registry.put(entry(self.config, self.url, self.load))
            return True
        except Exception as exc:  # noqa: BLE001 - the bus is down: next beat tries again; the TTL bounds staleness
            log.warning("discovery put for %s failed: %s", self.key, exc)
            return False

    async def _announce(self, registered: bool) -> bool:
        if not registered:
            return False
        try:
            await self.reports.ready(self.url)
            return True
        except Exception as exc:  # noqa: BLE001 - retried on the next beat
            log.warning("ready report for %s not stored yet: %s", self.key, exc)
            return False

    async def _delete(self) -> None:
        try:
            await self.registry.delete(self.key)
        except Exception as exc:  # noqa: BLE001 - the entry expires with the TTL anyway
            log.warning("discovery delete for %s failed: %s", self.key, exc)

    async def _leave(self, http: httpx.AsyncClient, reason: str) -> int:
        await self._delete()
        deadline = time.monotonic() + self.config.drain_timeout
        while time.monotonic() < deadline and self.process.returncode is None:
            load = await self._read_load(http)
            if load is None or load.running + load.waiting == 0:
                break
            await asyncio.sleep(0.2)
        await self.process.stop(self.config.stop_grace)
        await self._report_lost(reason)
        log.info("replica %s left: %s", self.key, reason)
        return 0

    async def _fail(self, reason: str) -> int:
        self.failure = reason
        await self._report_lost(reason)
        return 1

    async def _report_lost(self, reason: str) -> None:
        try:
            await self.reports.lost(reason)
        except Exception as exc:  # noqa: BLE001 - the job's exit reaches the deployment anyway
            log.warning("lost report for %s not stored: %s", self.key, exc)
