"""Metering: GPU usage records on USAGE, derived from job lifecycles (`domains.metering`).

View: every job's billing history (JobSubmitted/JobQueued for the spec,
JobPlaced, releases) with envelope times, and each node's GPU model (a
JobPlaced whose spec named no model is billed at its node's model: the job
domain's JobPlaced carries only the spec's model).

Records: `intervals_for(history, now=...)` returns CLOSED intervals only; each
becomes one `UsageRecorded` envelope (aggregate `usage`, id = record id, version
1, time = interval end) on `usage.<tenant>.gpu` with `Nats-Msg-Id` = record id.
- after a release event of a job (requeue or end), with now = the event's time;
- every `tick(now)` (the plane calls it on a timer) for jobs still holding GPUs:
  the pieces of their span that closed at an interval boundary, so long jobs
  bill as they run.

Exactly once: record ids are deterministic (job, attempt, interval start) and a
record is published only if its id is not in `published`, which `load_published`
rebuilds from USAGE at start; JetStream's dedupe covers a crash between the
publish and the set update. A finished job's history is dropped once billed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bus import subjects
from bus.publish import OutMsg, Publisher
from bus.read import replay
from domains.metering import UsageInterval, intervals_for, usage_record
from domains.metering.errors import MeteringError
from domains.registry import CLUSTER
from schemas import Envelope, decode, encode
from schemas import jobs as j
from schemas.fleet import NodeRegistered, node_id

log = logging.getLogger("tessera.control.metering")
RELEASES = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)
ENDS = (j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)


def usage_envelope(interval: UsageInterval) -> Envelope:
    record = usage_record(interval)
    return Envelope(specversion="1.0", id=record.record_id, source="/tessera/metering", type=record.TYPE,
                    time=interval.end, tenant=interval.tenant, actor="metering", correlationid=interval.job_id,
                    data=record, aggregate="usage", aggregateid=record.record_id, version=1)


class Meter:
    name = "metering"

    def __init__(self, nc, *, interval_s: int = 3600) -> None:
        self.publisher = Publisher(nc, stream="USAGE")
        self.nc = nc
        self.interval_s = interval_s
        self.models: dict[str, str] = {}  # node id -> GPU model
        self.history: dict[tuple[str, str], list[tuple[datetime, j.Event]]] = {}
        self.holding: set[tuple[str, str]] = set()
        self.published: set[str] = set()
        self.due: tuple[str, list[UsageInterval]] = ("", [])  # (event id, its closed intervals)

    async def load_published(self) -> None:
        def seen(msg) -> None:
            self.published.add(msg.msg_id or decode(msg.data).id)
        await replay(self.nc, "USAGE", seen, subject="usage.*.gpu")

    def apply(self, env: Envelope) -> None:
        event = env.data
        if isinstance(event, NodeRegistered) and env.aggregate == CLUSTER:
            self.models[node_id(event.cluster, event.node.name)] = event.node.gpu_model or ""
            return
        if not isinstance(event, (j.JobSubmitted, j.JobQueued, j.JobPlaced, *RELEASES, j.JobRejected)):
            return
        key = (env.tenant, event.job_id)
        if isinstance(event, j.JobPlaced):
            self.holding.add(key)
            if event.gpu_model is None and event.placements:
                p = event.placements[0]
                event = event.model_copy(update={"gpu_model": self.models.get(node_id(p.cluster, p.node)) or None})
        elif isinstance(event, RELEASES):
            self.holding.discard(key)
        history = self.history.setdefault(key, [])
        history.append((env.time, event))
        if isinstance(event, RELEASES):
            self.due = (env.id, self._intervals(key, env.time))
        if isinstance(event, ENDS):
            del self.history[key]

    def react(self, env: Envelope):
        return []

    async def effect(self, env: Envelope) -> None:
        event_id, intervals = self.due
        if event_id == env.id:
            await self._publish(intervals)

    async def tick(self, now: datetime) -> int:
        """Bill the pieces of running spans that closed at a boundary up to `now`; returns records published.

        Call it with `now` a grace period behind the clock (the plane uses a minute): a job's
        end event must have been applied before a boundary after that end is passed, or the
        piece would be billed to the boundary instead of to the end.
        """
        before = len(self.published)
        for key in list(self.holding):
            if key in self.history:
                await self._publish(self._intervals(key, now))
        return len(self.published) - before

    def _intervals(self, key: tuple[str, str], now: datetime) -> list[UsageInterval]:
        try:
            return intervals_for(self.history[key], tenant=key[0], now=now, interval_s=self.interval_s)
        except MeteringError:  # a history metering cannot bill (no GPU model known): report, never stall
            log.exception("metering: cannot bill job %s of %s", key[1], key[0])
            return []

    async def _publish(self, intervals: list[UsageInterval]) -> None:
        fresh = [i for i in intervals if i.record_id not in self.published]
        if not fresh:
            return
        self.published.update(i.record_id for i in fresh)
        msgs = [OutMsg(subjects.usage_subject(i.tenant, "gpu"), encode(usage_envelope(i)), i.record_id)
                for i in fresh]
        try:
            await self.publisher.publish_many(msgs)
        except BaseException:
            self.published.difference_update(i.record_id for i in fresh)
            raise
