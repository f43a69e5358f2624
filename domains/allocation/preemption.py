"""Choosing victims: the smallest set of lower-priority preemptible jobs whose GPUs make a job fit.

Only running jobs that are `preemptible` and of strictly lower priority than the
waiting job are candidates (never equal or higher), and only for the GPUs they
hold on nodes eligible for the job. Candidates are added lowest priority first
(then the largest, then the most recently placed, then by id) until the job
would fit; then every chosen victim is dropped again, highest priority first,
if the job still fits without it. The result is inclusion-minimal: no victim
can be spared. Victims already chosen earlier in the same pass are not counted
twice. Fit is tracked incrementally per gang group (model, rack), so each step
costs O(nodes the victim touches).
"""

from __future__ import annotations

from domains.allocation.constraints import Shape
from domains.allocation.fleet import Fleet
from domains.allocation.model import Node, Running


def _candidates(fleet: Fleet, nodes: list[Node], priority: int, reserved: set[str]) -> list[Running]:
    found: dict[str, Running] = {}
    for node in nodes:
        for job_id in node.allocs:
            job = fleet.running.get(job_id)
            if job is not None and job.preemptible and job.priority < priority and job_id not in reserved:
                found[job_id] = job
    return sorted(found.values(), key=lambda j: (j.priority, -j.gpus, -j.seq, j.job_id))


def choose_victims(fleet: Fleet, shape: Shape, priority: int, nodes: list[Node], reserved: set[str]) -> list[str] | None:
    g, want = shape.gpus, shape.gang
    if not g or not any(c for p, c in fleet.preemptible.items() if p < priority):
        return None
    group: dict[str, tuple] = {}
    for n in nodes:
        rack = n.spec.rack if shape.same_rack else None
        if not (shape.same_rack and rack is None):
            group[n.key] = (n.model if want > 1 else None, rack)
    free = {n.key: len(n.free) for n in nodes if n.key in group}
    totals: dict[tuple, int] = {}
    for key, f in free.items():
        totals[group[key]] = totals.get(group[key], 0) + f // g

    def shift(job: Running, sign: int) -> None:
        for key, indices in job.placements:
            if key in free:
                before = free[key] // g
                free[key] += sign * len(indices)
                totals[group[key]] += free[key] // g - before

    chosen: list[Running] = []
    for job in _candidates(fleet, [n for n in nodes if n.key in group], priority, reserved):
        shift(job, 1)
        chosen.append(job)
        if max(totals.values()) >= want:
            break
    else:
        return None
    for job in reversed(list(chosen)):
        shift(job, -1)
        if max(totals.values()) >= want:
            chosen.remove(job)
        else:
            shift(job, 1)
    return [j.job_id for j in chosen]
