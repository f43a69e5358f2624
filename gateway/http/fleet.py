"""The gateway's copy of the placement engine's fleet, for allocation dry-runs.

A projection (fed by the gateway's ProjectionRunner with the registry models)
that folds node and job events into a `domains.allocation.Fleet` exactly as
the control plane's placer does (bus/control/placer.py): the cluster
aggregate's NodeRegistered/NodeRemoved count, their mirrored copies on the
node aggregate are skipped. `explain(spec, tenant, now)` answers "where would
this job fit right now, and why not elsewhere" (domains.allocation.dryrun);
it works on a clone, the fleet itself never changes outside the log.

An event the fleet refuses (a DomainError: e.g. a placement the log and the
fleet disagree about) is logged and skipped; the dry-run is advice, the placer
remains the authority.
"""

from __future__ import annotations

import logging
from datetime import datetime

from domains.allocation import Fleet, explain
from domains.errors import DomainError
from domains.registry import NODE
from projections.tracking import Batch
from schemas import fleet as f
from schemas.allocation import DryRun
from schemas.jobs import JobSpec

log = logging.getLogger("tessera.gateway.fleet")


class FleetView:
    name = "gateway.fleet"
    aggregates = frozenset({"cluster", "node", "job"})
    snapshot = True  # saved and restored with the registry (projections.snapshots)

    def __init__(self) -> None:
        self.fleet = Fleet()
        self._position = 0

    def position(self) -> int:
        return self._position

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def apply_batch(self, batch: Batch) -> int:
        applied = 0
        for env, seq in batch:
            if seq <= self._position:
                continue
            self._position = seq
            applied += 1
            if env.aggregate == NODE and isinstance(env.data, (f.NodeRegistered, f.NodeRemoved)):
                continue
            try:
                self.fleet.apply(env.data, tenant=env.tenant)
            except DomainError as exc:
                log.warning("fleet view skipped seq %s (%s): %s", seq, type(env.data).__name__, exc)
        return applied

    def explain(self, spec: JobSpec, *, tenant: str, policy: str, now: datetime) -> DryRun:
        return explain(self.fleet, spec, policy=policy, tenant=tenant, now=now)
