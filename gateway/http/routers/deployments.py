"""/v1/deployments: create (DeploymentSpec as JSON or YAML), list, get (replicas with their live load), scale,
stop, events.

Reads come from the gateway's deployments read model (projections/registry/
deployments.py), scoped to the caller's tenant: another tenant's deployment
answers exactly like a missing one. A replica in the answer carries its slot
state (the domain's), the placement of its job (jobs read model) and, when its
agent is registered, its live load from discovery (bus/discovery.py: one
Direct Get per replica key; `live` is false once the entry is older than the
discovery TTL, i.e. the agent went silent).

Create checks the spec's cross-field rules before sending (an immediate 422
naming `spec.<field>`); the domain checks them again. With `Idempotency-Key`
the deployment id derives from the key: a retry answers with the same
deployment, never a second one. Scale and stop are commands on the deployment
aggregate; their refusals (a count outside min..max: 422 at `replicas`; a
stopped deployment: 409) come back from the domain's dead letter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from nats.errors import Error as NatsError
from pydantic import BaseModel, Field, ValidationError

from bus.discovery import TTL_S, entry_key, open_registry
from domains.inference import problems
from gateway.http import bodies, events
from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, SPEC_UPLOAD, errors
from gateway.http.errors import Invalid, from_validation, missing
from gateway.http.idempotency import key_header
from gateway.http.models import Accepted, EventOut, Page
from gateway.http.models.common import Request as Body
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from projections.registry import DeploymentView
from schemas import inference as inf

KEY = key_header("deployment")


class ScaleIn(Body):
    replicas: inf.ReplicaCount
    reason: inf.Reason = ""


class StopIn(Body):
    reason: inf.Reason = ""


class LoadOut(BaseModel):
    running: int
    waiting: int
    kv_cache: float
    max_concurrent: int
    url: str
    updated: datetime
    live: bool = Field(description="false once the agent's entry is older than the discovery TTL")


class ReplicaOut(BaseModel):
    index: int
    generation: int
    job_id: str
    status: str = Field(description="pending|placed|starting|running|ready|lost|failed (stopping: draining)")
    reason: str
    restarts: int
    endpoint: str
    placements: list[dict]
    load: LoadOut | None = Field(None, description="live load from discovery; null: no agent registered")


class DeploymentOut(BaseModel):
    id: str
    tenant: str
    name: str
    model: str
    engine: str
    status: str = Field(description="requested|placed|serving|degraded|stopped")
    desired: int
    ready: int
    min_replicas: int
    max_replicas: int
    gpus: int
    gpu_model: str | None
    autoscale: bool
    created_at: datetime
    updated_at: datetime
    link: str


class DeploymentDetail(DeploymentOut):
    spec: inf.DeploymentSpec
    replicas: list[ReplicaOut]
    stopping: list[ReplicaOut] = Field(description="slots removed by a scale-down or stop whose job is ending")


def link(id: str) -> str:
    return f"/v1/deployments/{id}"


def summary(v: DeploymentView) -> dict:
    spec = v.state.spec
    return {"id": v.id, "tenant": v.tenant, "name": spec.name, "model": spec.model, "engine": spec.engine,
            "status": v.status, "desired": v.state.desired, "ready": v.ready, "min_replicas": spec.min_replicas,
            "max_replicas": spec.max_replicas, "gpus": spec.gpus, "gpu_model": spec.gpu_model,
            "autoscale": spec.autoscale is not None, "created_at": v.created_at, "updated_at": v.updated_at,
            "link": link(v.id)}


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/deployments", tags=["deployments"])
    paging = page_query(s.settings)
    discovery = []  # the discovery registry, opened on first use

    def find(caller: Caller, id: str) -> DeploymentView:
        view = s.registry.deployments.get(id)
        if view is None or not caller.owns(view.tenant):
            raise missing("deployment", id)
        return view

    async def load_of(tenant: str, deployment: str, replica, now: datetime) -> dict | None:
        if not discovery:
            discovery.append(await open_registry(s.nc.jetstream()))
        entry = await discovery[0].get(entry_key(tenant, deployment, replica.index, replica.generation))
        if entry is None:
            return None
        live = (now - entry.updated).total_seconds() <= TTL_S
        return {"running": entry.running, "waiting": entry.waiting, "kv_cache": entry.kv_cache,
                "max_concurrent": entry.max_concurrent, "url": entry.url, "updated": entry.updated, "live": live}

    async def replica_out(v: DeploymentView, replica, *, draining: bool, now: datetime) -> dict:
        job = s.registry.jobs.get(replica.job_id)
        placements = [] if job is None else [{"cluster": p.cluster, "node": p.node,
                                              "gpu_indices": list(p.gpu_indices)} for p in job.placements]
        try:
            load = None if draining else await load_of(v.tenant, v.id, replica, now)
        except (NatsError, ValueError, TimeoutError):  # discovery unreachable or unreadable: the slot state answers
            load = None
        return {"index": replica.index, "generation": replica.generation, "job_id": replica.job_id,
                "status": "stopping" if draining else replica.status, "reason": replica.reason,
                "restarts": replica.restarts, "endpoint": replica.endpoint, "placements": placements, "load": load}

    @r.post("", status_code=202, response_model=Accepted, summary="Create a deployment",
            responses=errors(*SPEC_UPLOAD),
            openapi_extra=bodies.spec_schema(inf.DeploymentSpec, "the deployment's spec"))
    async def create(request: Request, caller: Caller = Depends(writer("deployments:write")),
                     idempotency_key: str | None = KEY) -> dict:
        data = bodies.mapping(await bodies.read_document(request), "deployment")
        try:
            spec = inf.DeploymentSpec.model_validate(data)
        except ValidationError as exc:
            raise from_validation(exc, "spec") from None
        found = problems(spec)
        if found:
            raise Invalid(found)
        tenant = caller.acting
        ids = s.idempotency.ids("create_deployment", tenant, caller.user_id, idempotency_key,
                                spec.model_dump_json())
        existing = s.registry.deployments.get(ids.object_id)
        if ids.keyed and existing is not None:
            return accepted(ids.object_id, existing.status, link(ids.object_id))
        command = build(inf.CreateDeployment, deployment_id=ids.object_id, spec=spec)
        outcome = await execute(s, caller.actor, tenant, command, ids.command_id)
        view = s.registry.deployments.get(ids.object_id)
        return accepted(ids.object_id, view.status if view else None, link(ids.object_id), outcome)

    @r.get("", response_model=Page[DeploymentOut], summary="List deployments", responses=errors(400, 422))
    async def list_deployments(caller: Caller = Depends(reader("deployments:read")), p=Depends(paging),
                               status: str | None = Query(None, description="requested|placed|serving|degraded|"
                                                                             "stopped"),
                               name: str | None = None,
                               sort: Literal["created", "-created", "name", "-name"] = "-created") -> dict:
        got = s.registry.deployments.list(tenant=caller.scope, status=status, name=name, sort=sort,
                                          page_size=p.page_size, cursor=p.cursor)
        return page([summary(v) for v in got.items], got.next_cursor)

    @r.get("/{id}", response_model=DeploymentDetail, summary="Get a deployment with its replicas and their load",
           responses=errors(404))
    async def get_deployment(id: str, caller: Caller = Depends(reader("deployments:read"))) -> dict:
        view = find(caller, id)
        now = datetime.now(UTC)
        replicas = [await replica_out(view, r, draining=False, now=now) for r in view.state.replicas]
        stopping = [await replica_out(view, r, draining=True, now=now) for r in view.state.stopping]
        return {**summary(view), "spec": view.state.spec, "replicas": replicas, "stopping": stopping}

    @r.post("/{id}/scale", status_code=202, response_model=Accepted, summary="Set the desired replica count",
            responses=errors(*COMMAND))
    async def scale(id: str, body: ScaleIn, caller: Caller = Depends(writer("deployments:write")),
                    idempotency_key: str | None = KEY) -> dict:
        view = find(caller, id)
        ids = s.idempotency.ids("scale_deployment", view.tenant, caller.user_id, idempotency_key,
                                body.model_dump_json(), object_id=id)
        command = build(inf.ScaleDeployment, deployment_id=id, replicas=body.replicas, reason=body.reason)
        outcome = await execute(s, caller.actor, view.tenant, command, ids.command_id,
                                on=(view.tenant, "deployment", id) if ids.keyed else None)
        return accepted(id, s.registry.deployments.get(id).status, link(id), outcome)

    @r.post("/{id}/stop", status_code=202, response_model=Accepted, summary="Stop a deployment (its replicas end)",
            responses=errors(*COMMAND))
    async def stop(id: str, body: StopIn | None = None, caller: Caller = Depends(writer("deployments:write")),
                   idempotency_key: str | None = KEY) -> dict:
        view = find(caller, id)
        reason = body.reason if body else ""
        ids = s.idempotency.ids("stop_deployment", view.tenant, caller.user_id, idempotency_key, reason,
                                object_id=id)
        command = build(inf.StopDeployment, deployment_id=id, reason=reason)
        outcome = await execute(s, caller.actor, view.tenant, command, ids.command_id,
                                on=(view.tenant, "deployment", id) if ids.keyed else None)
        return accepted(id, s.registry.deployments.get(id).status, link(id), outcome)

    @r.get("/{id}/events", response_model=Page[EventOut], summary="The deployment's events", responses=errors(404))
    async def deployment_events(id: str, caller: Caller = Depends(reader("deployments:read"))) -> dict:
        view = find(caller, id)
        return page(await events.history(s.nc, view.tenant, "deployment", id), None)

    return r
