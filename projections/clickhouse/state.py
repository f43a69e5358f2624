"""What the ClickHouse converters must remember between events, and how it is recovered.

Usage intervals pair a `JobPlaced` with the event that ends the placement, and
node samples need each node's GPU total and current use: `UsageState` holds
the open intervals (job -> start, GPUs, per-node slots) and every node's use.
Converters only read it; `advance(state, envelope, seq)` moves it past an event
after that event's rows were built.

Recovery needs no separate store: the tables are the state. `load(client, db,
position)` rebuilds the state as of the tracked position P — intervals opened
at or before P and not closed by then (`closed = 0 OR end_seq > P`: a batch
stored past P before a crash is ignored and re-derived), and each node's last
sample at or before P.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from schemas import Envelope
from schemas import fleet as f
from schemas import jobs as j

ENDING = (j.JobRequeued, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)


@dataclass(frozen=True)
class OpenInterval:
    tenant: str
    job_id: str
    start_seq: int
    start: datetime
    gpu_model: str
    gpus: int
    nodes: tuple[tuple[str, str, int], ...]  # (cluster, node, GPUs held there)


@dataclass(frozen=True)
class NodeUse:
    gpu_model: str
    total: int
    used: int = 0


@dataclass
class UsageState:
    open: dict[str, OpenInterval] = field(default_factory=dict)
    nodes: dict[tuple[str, str], NodeUse] = field(default_factory=dict)

    def copy(self) -> UsageState:
        return UsageState(dict(self.open), dict(self.nodes))


def per_node(placements: list[j.Placement]) -> tuple[tuple[str, str, int], ...]:
    held: dict[tuple[str, str], int] = {}
    for p in placements:
        held[(p.cluster, p.node)] = held.get((p.cluster, p.node), 0) + len(p.gpu_indices)
    return tuple((c, n, g) for (c, n), g in held.items())


def opened(env: Envelope, seq: int) -> OpenInterval:
    e: j.JobPlaced = env.data  # type: ignore[assignment]
    nodes = per_node(e.placements)
    return OpenInterval(env.tenant, e.job_id, seq, env.time, e.gpu_model or "", sum(g for *_, g in nodes), nodes)


def advance(state: UsageState, env: Envelope, seq: int) -> None:
    e = env.data
    if isinstance(e, f.NodeRegistered):
        state.nodes[(e.cluster, e.node.name)] = NodeUse(e.node.gpu_model or "", e.node.gpu_count)
    elif isinstance(e, f.NodeRemoved):
        state.nodes.pop((e.cluster, e.node), None)
    elif isinstance(e, j.JobPlaced):
        interval = opened(env, seq)
        state.open[e.job_id] = interval
        _use(state, interval.nodes, +1)
    elif isinstance(e, ENDING) and (interval := state.open.pop(e.job_id, None)) is not None:
        _use(state, interval.nodes, -1)


def _use(state: UsageState, nodes: tuple[tuple[str, str, int], ...], sign: int) -> None:
    for cluster, node, gpus in nodes:
        use = state.nodes.get((cluster, node))
        if use is not None:
            state.nodes[(cluster, node)] = replace(use, used=max(use.used + sign * gpus, 0))


def load(client, db: str, position: int) -> UsageState:
    state = UsageState()
    intervals = client.query(
        f"SELECT tenant, job_id, start_seq, start, gpu_model, gpus, nodes FROM {db}.gpu_usage_intervals FINAL "
        "WHERE start_seq <= {p:UInt64} AND (closed = 0 OR end_seq > {p:UInt64})", parameters={"p": position})
    for tenant, job_id, start_seq, start, model, gpus, nodes in intervals.result_rows:
        state.open[job_id] = OpenInterval(tenant, job_id, start_seq, _utc(start), model, gpus,
                                          tuple((c, n, g) for c, n, g in nodes))
    samples = client.query(
        f"SELECT cluster, node, argMax(gpu_model, seq), argMax(gpus_total, seq), argMax(gpus_used, seq), "
        f"argMax(removed, seq) FROM {db}.node_samples WHERE seq <= {{p:UInt64}} GROUP BY cluster, node",
        parameters={"p": position})
    for cluster, node, model, total, used, removed in samples.result_rows:
        if not removed:
            state.nodes[(cluster, node)] = NodeUse(model, total, used)
    return state


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
