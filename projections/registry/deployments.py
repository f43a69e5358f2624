"""The deployments read model: every inference deployment with its lifecycle status and per-replica state.

The converter is the inference domain's own fold (`domains.inference.evolve`):
a view holds the `DeploymentState` the control plane decides with, so the read
model can never disagree with the aggregate about replicas, desired count or
status. Around it the view keeps what people ask for: tenant, times, the
sequences of creation and last change, and `last_scaled_at` (the envelope
time of DeploymentRequested / DeploymentScaled: what autoscale cooldowns
count from).

- DeploymentRequested creates the view (a second one for the same id changes
  nothing); every other deployment event is folded into it.
- Events about a deployment never seen requested, or under another tenant
  than the one that requested it, are ignored (ids are per tenant: never mix).
- Replicas: `state.replicas` are the active slots (index, generation, job id,
  status pending|placed|starting|running|ready|lost|failed, reason, restarts,
  endpoint); `state.stopping` the slots draining after a scale-down or stop.
Indexed by tenant, status and name; sorted by creation (default) or name.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import orjson

from domains.inference import DeploymentState
from domains.inference import evolve as fold_event
from projections.registry.base import ReadModel, updated
from projections.registry.store import IndexedStore, Page
from schemas import Envelope
from schemas import inference as inf

EVENTS = (inf.DeploymentRequested, inf.DeploymentScaled, inf.DeploymentStopped, inf.DeploymentStatusChanged,
          inf.ReplicaScheduled, inf.ReplicaStateChanged, inf.ReplicaReady, inf.ReplicaLost, inf.ReplicaFailed,
          inf.ReplicaStopping, inf.ReplicaRemoved)


@dataclass(frozen=True, slots=True)
class DeploymentView:
    id: str
    tenant: str
    state: DeploymentState
    created_at: datetime
    updated_at: datetime
    last_scaled_at: datetime
    created_seq: int
    updated_seq: int

    @property
    def name(self) -> str:
        return self.state.spec.name  # type: ignore[union-attr]

    @property
    def status(self) -> str:
        return self.state.status

    @property
    def ready(self) -> int:
        return self.state.count(("ready",))


def evolve(view: DeploymentView | None, env: Envelope, seq: int) -> DeploymentView | None:
    """The view after `env`; None for an event about a deployment never seen requested."""
    e = env.data
    if isinstance(e, inf.DeploymentRequested):
        if view is not None:
            return view
        return DeploymentView(id=e.deployment_id, tenant=env.tenant, state=fold_event(DeploymentState(), e),
                              created_at=env.time, updated_at=env.time, last_scaled_at=env.time,
                              created_seq=seq, updated_seq=seq)
    if view is None or view.tenant != env.tenant:
        return view
    scaled = env.time if isinstance(e, inf.DeploymentScaled) else view.last_scaled_at
    return updated(view, state=fold_event(view.state, e), updated_at=env.time, updated_seq=seq,
                   last_scaled_at=scaled)


def _json(value):
    dump = getattr(value, "model_dump", None)
    if dump is not None:
        return dump(mode="json")
    raise TypeError(type(value).__name__)


class DeploymentsModel(ReadModel):
    name = "registry.deployments"

    def __init__(self) -> None:
        super().__init__(IndexedStore(
            key=lambda v: v.id,
            indexes={"tenant": lambda v: (v.tenant,), "status": lambda v: (v.status,), "name": lambda v: (v.name,)},
            sorts={"created": lambda v: (v.created_seq,), "name": lambda v: (v.name,)},
            eager=("created",),
        ))

    def _deployment(self, env: Envelope, seq: int) -> None:
        id = env.data.deployment_id  # type: ignore[attr-defined]
        old = self.store.get(id)
        view = evolve(old, env, seq)
        if view is not None and view is not old:
            self.store.put(view)

    handlers = dict.fromkeys(EVENTS, _deployment)

    def get(self, id: str, tenant: str | None = None) -> DeploymentView | None:
        """The deployment, or None if missing or (with `tenant`) another tenant's: both answer alike."""
        view = self.store.get(id)
        return None if view is None or (tenant is not None and view.tenant != tenant) else view

    def list(self, *, tenant: str | None = None, status: str | None = None, name: str | None = None,
             sort: str = "-created", page_size: int = 100, cursor: str | None = None) -> Page[DeploymentView]:
        return self._list({"tenant": tenant, "status": status, "name": name}, sort, page_size, cursor)

    def state_hash(self) -> str:
        digest = hashlib.sha256(f"{self.name}@{self._position}".encode())
        for id in sorted(self.store.ids()):
            digest.update(orjson.dumps(self.store.get(id), option=orjson.OPT_SORT_KEYS, default=_json))
        return digest.hexdigest()
