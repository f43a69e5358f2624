"""The executor loop shared by every compute backend: EXEC in, reports out as commands on CMD.

`Executor(nc, backend).run()` consumes the durable `exec-<cluster>` on
`exec.<cluster>.>` (bus/control/dispatch.py publishes there) and hands each
`LaunchJob` / `StopJob` to the backend. Ack semantics:

- A message is acked once the backend has acted on it: a launch returns once
  the run is started (or found already started: an attempt runs at most once
  per executor process), a stop once the run is gone. The run itself goes on
  in the backend, which reports through `Reporter`.
- A stop may overtake its launch (messages of one fetch run concurrently, and
  redeliveries come late): the stopped attempt is remembered and its launch,
  when it comes, is acked without running anything.
- `PermanentAdapterError` (and anything that does not decode) is dead-lettered
  on `dlq.EXEC.exec-<cluster>` with its reason; `TransientAdapterError` and
  any other exception are retried with backoff up to `max_deliver`.

Backends never write EVT: `Reporter` sends ReportJobStarting/Running/Exited
(with the attempt), RecordHeartbeat and registration commands on CMD, with ids
derived from what they report (a resent report is a JetStream duplicate, and
the job aggregate ignores reports of runs other than its current one).
`registered_nodes` reads a cluster's membership from EVT so a restarted
backend registers only what is missing.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Protocol

from bus import subjects
from bus.commands import send
from bus.consumer import Consumer, ConsumerSpec, Delivery, Permanent
from bus.publish import OutMsg, Publisher
from bus.read import load_aggregate
from schemas import PLATFORM_TENANT, Command, Envelope, decode, derived_id, encode
from schemas import fleet as f
from schemas import jobs as j
from schemas.compute import LaunchJob, StopJob

log = logging.getLogger("tessera.executor")
REMEMBERED = 100_000  # attempts (launched or stopped) an executor remembers


class TransientAdapterError(Exception):
    """The outside world failed for now (retry)."""


class PermanentAdapterError(Exception):
    """This order can never be carried out (dead-letter it)."""


class Backend(Protocol):
    cluster: str

    async def launch(self, tenant: str, order: LaunchJob) -> None:
        """Start the run (return once started); report through the reporter given at construction."""

    async def stop(self, tenant: str, order: StopJob) -> None:
        """Stop the run if it still runs; return once it is gone. Its exit is not reported."""


class Reporter:
    """Commands from an executor to the control plane, ids derived from what they report."""

    def __init__(self, nc, cluster: str, *, source: str = "/tessera/executor") -> None:
        self.publisher = Publisher(nc, stream="CMD")
        self.cluster = cluster
        self.source = source

    def envelope(self, tenant: str, command: Command, *id_parts: str | int) -> Envelope:
        return Envelope.for_command(command, tenant=tenant, actor=f"executor:{self.cluster}", source=self.source,
                                    time=datetime.now(UTC), id=derived_id("executor", self.cluster, *id_parts))

    async def send(self, tenant: str, command: Command, *id_parts: str | int) -> None:
        await send(self.publisher, self.envelope(tenant, command, *id_parts))

    async def send_many(self, items: list[tuple[str, Command, tuple]]) -> None:
        """(tenant, command, id parts) triples, pipelined; each still acknowledged."""
        envs = [self.envelope(tenant, command, *parts) for tenant, command, parts in items]
        await self.publisher.publish_many([OutMsg(subjects.subject_for(e), encode(e), e.id) for e in envs])

    async def starting(self, tenant: str, job: str, attempt: int) -> None:
        await self.send(tenant, j.ReportJobStarting(job_id=job, attempt=attempt), "starting", tenant, job, attempt)

    async def running(self, tenant: str, job: str, attempt: int) -> None:
        await self.send(tenant, j.ReportJobRunning(job_id=job, attempt=attempt), "running", tenant, job, attempt)

    async def exited(self, tenant: str, job: str, attempt: int, exit_code: int, reason: str = "", *,
                     cpu_seconds: float | None = None, max_rss_mb: float | None = None) -> None:
        report = j.ReportJobExited(job_id=job, attempt=attempt, exit_code=exit_code, reason=reason[:1000],
                                   cpu_seconds=cpu_seconds, max_rss_mb=max_rss_mb)
        await self.send(tenant, report, "exited", tenant, job, attempt)

    def heartbeat(self, node: str, at: datetime) -> tuple[str, Command, tuple]:
        return PLATFORM_TENANT, f.RecordHeartbeat(cluster=self.cluster, node=node, at=at), (
            "heartbeat", node, at.isoformat())


async def registered_nodes(nc, cluster: str) -> set[str] | None:
    """The nodes of `cluster` as the log has them, or None if it was never onboarded."""
    stored = await load_aggregate(nc, PLATFORM_TENANT, "cluster", cluster)
    events = [decode(m.data).data for m in stored]
    if not any(isinstance(e, f.ClusterOnboarded) for e in events):
        return None
    nodes: set[str] = set()
    for event in events:
        if isinstance(event, f.NodeRegistered):
            nodes.add(event.node.name)
        elif isinstance(event, f.NodeRemoved):
            nodes.discard(event.node)
    return nodes


class Executor:
    def __init__(self, nc, backend: Backend, *, max_deliver: int = 5,
                 backoff: tuple[float, ...] = (0.2, 1.0, 5.0, 15.0)) -> None:
        self.backend = backend
        self.launched: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        self.stopped: OrderedDict[tuple[str, str, int], None] = OrderedDict()
        spec = ConsumerSpec(stream="EXEC", durable=f"exec-{backend.cluster}", max_deliver=max_deliver,
                            filter_subjects=(subjects.exec_subjects(backend.cluster),), backoff=backoff)
        self.consumer = Consumer(nc, spec, self._handle, decode=decode, concurrent=True)

    async def run(self) -> None:
        await self.consumer.run()

    async def stop(self) -> None:
        await self.consumer.stop()

    async def _handle(self, delivery: Delivery) -> None:
        env: Envelope = delivery.value
        order = env.data
        if not isinstance(order, (LaunchJob, StopJob)):
            raise Permanent(f"not an executor order: {env.type}")
        key = (env.tenant, order.job_id, order.attempt)
        try:
            if isinstance(order, StopJob):
                _remember(self.stopped, key)
                await self.backend.stop(env.tenant, order)
            elif key not in self.stopped and key not in self.launched:
                _remember(self.launched, key)
                try:
                    await self.backend.launch(env.tenant, order)
                except BaseException:
                    self.launched.pop(key, None)  # not started: a redelivery may start it
                    raise
        except PermanentAdapterError as exc:
            raise Permanent(str(exc)) from exc


def _remember(seen: OrderedDict, key) -> None:
    seen[key] = None
    while len(seen) > REMEMBERED:
        seen.popitem(last=False)
