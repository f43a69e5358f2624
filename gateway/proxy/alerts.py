"""API-key budget alerts: after a request settles, report the key's spend when a threshold is newly reached.

`check(principal, spent)` (sync, cheap, on the request path) compares the
key's spend counter after the request (limits.py: what every proxy's
requests cost so far, reservations still in flight included) with its
budget: when `domains.identity.keybudget.due` names a 50/80/100% threshold
that the key's read model has not seen announced for the current budget
revision (`KeyPrincipal.budget_alerts`) and this proxy has not reported yet,
one `ReportApiKeySpend(key_id, spent, budget_revision)` is queued. The
command id is derived from (tenant, key, revision, highest threshold due),
so proxies racing on the same crossing send the same id (JetStream drops
the copies within its window); the `apikey` aggregate decides each threshold
once per revision anyway (domains/identity/apikeys.py), so a copy past the
window or a report with other figures announces nothing twice.

A worker sends the queue to CMD off the request path; a send without a
PubAck is retried with the same id (backoff up to 2 s) until acknowledged.
Reports still queued when the process is killed are lost, and a threshold
this proxy reported stays "reported" for its lifetime: the next request of
the key after a restart (on any proxy) reports it again if it was lost.
A key at 100% whose requests are then refused reports nothing new (its
counter no longer moves); one whose reservations always overshoot may stop
short of 100% (the 402 answer tells the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from bus.commands import send
from bus.publish import Publisher
from domains.identity import KeyPrincipal
from domains.identity.keybudget import due
from schemas import Envelope, derived_id
from schemas.identity import ReportApiKeySpend

log = logging.getLogger("tessera.proxy.alerts")
SOURCE = "/tessera/proxy"
ACTOR = "system:proxy"


class BudgetAlerts:
    def __init__(self, nc, *, clock: Callable[[], datetime], timeout: float = 5.0) -> None:
        self.publisher = Publisher(nc, stream="CMD", timeout=timeout)
        self.clock = clock
        self.reported: set[tuple[str, int, int]] = set()  # (key id, revision, threshold) this proxy reported
        self.sent = 0
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def check(self, p: KeyPrincipal, spent: Decimal) -> None:
        thresholds = [t for t in due(spent, p.budget, p.budget_alerts)
                      if (p.key_id, p.budget_revision, t) not in self.reported]
        if not thresholds:
            return
        self.reported.update((p.key_id, p.budget_revision, t) for t in thresholds)
        command = ReportApiKeySpend(key_id=p.key_id, spent=spent, budget_revision=p.budget_revision)
        self.queue.put_nowait(Envelope.for_command(
            command, tenant=p.tenant, actor=ACTOR, source=SOURCE, time=self.clock(),
            id=derived_id("api_key_spend", p.tenant, p.key_id, p.budget_revision, thresholds[-1])))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="proxy-budget-alerts")

    async def stop(self, drain_s: float = 5.0) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.queue.join(), drain_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            env = await self.queue.get()
            delay = 0.05
            while True:
                try:
                    await send(self.publisher, env)
                    break
                except Exception as exc:  # noqa: BLE001 - unacknowledged: the same id again (dedupe absorbs copies)
                    log.warning("reporting the spend of %s failed (%s: %s); retrying", env.data.key_id,
                                type(exc).__name__, exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            self.sent += 1
            self.queue.task_done()
