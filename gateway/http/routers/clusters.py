"""/v1/clusters: onboard from a spec (JSON or YAML; `?dry_run=true` only validates), list, get, node actions.

The spec is checked by the registry domain's validator (domains.registry:
every problem at once, with its path and line) before anything is sent.
Clusters are platform objects (tenant `_platform`): every role reads them,
only platform admins change them (`clusters:write`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from domains.registry import dry_run as check_spec
from gateway.http import bodies, views
from gateway.http.auth import credited, permitted
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, SPEC_UPLOAD, errors
from gateway.http.errors import Invalid, missing
from gateway.http.idempotency import key_header
from gateway.http.models import (
    Accepted,
    ClusterDryRunOut,
    ClusterOut,
    NodeActionIn,
    Page,
)
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from schemas import PLATFORM_TENANT
from schemas import fleet as f

KEY = key_header("answer")
ACTIONS = {"cordon": f.CordonNode, "uncordon": f.UncordonNode, "drain": f.DrainNode}


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/clusters", tags=["clusters"])
    paging = page_query(s.settings)

    @r.post("", status_code=202, response_model=Accepted,
            summary="Onboard a cluster from its spec (or validate it: ?dry_run=true)",
            responses={**errors(*SPEC_UPLOAD), 200: {"model": ClusterDryRunOut, "description": "dry run"}},
            openapi_extra=bodies.spec_schema(f.ClusterSpec, "the cluster's spec"))
    async def onboard(request: Request, dry_run: bool = Query(False, description="validate only: 200 with problems"),
                      principal=Depends(permitted("clusters:write")), idempotency_key: str | None = KEY):
        doc = await bodies.read_document(request)
        result = check_spec(doc.text, format=doc.format)  # every problem, with its line
        if dry_run:
            return JSONResponse({
                "valid": result.ok,
                "problems": [{"path": p.path, "message": p.message, "line": p.line} for p in result.problems],
                "summary": asdict(result.summary) if result.summary else None,
            }, status_code=200)
        if not result.ok:
            raise Invalid([(bodies.prefixed(p.path), p.message, p.line) for p in result.problems])
        spec = f.ClusterSpec.model_validate(doc.data)
        ids = s.idempotency.ids("onboard_cluster", PLATFORM_TENANT, principal.user_id, idempotency_key,
                                spec.model_dump_json(), object_id=spec.name)
        on = (PLATFORM_TENANT, "cluster", spec.name) if ids.keyed and s.registry.clusters.get(spec.name) else None
        outcome = await execute(s, credited(principal), PLATFORM_TENANT, build(f.OnboardCluster, spec=spec),
                                ids.command_id, on=on)
        status = "onboarded" if s.registry.clusters.get(spec.name) else None
        return accepted(spec.name, status, views.cluster_link(spec.name), outcome)

    @r.get("", response_model=Page[ClusterOut], summary="List clusters", responses=errors(400, 422))
    async def list_clusters(_=Depends(permitted("clusters:read")), p=Depends(paging), region: str | None = None,
                            backend: str | None = None, pool: str | None = None,
                            label: str | None = Query(None, description="key or key=value")) -> dict:
        got = s.registry.clusters.list(region=region, backend=backend, pool=pool, label=label,
                                       page_size=p.page_size, cursor=p.cursor)
        return page([views.cluster(v) for v in got.items], got.next_cursor)

    @r.get("/{name}", response_model=ClusterOut, summary="Get a cluster", responses=errors(404))
    async def get_cluster(name: str, _=Depends(permitted("clusters:read"))) -> dict:
        view = s.registry.clusters.get(name)
        if view is None:
            raise missing("cluster", name)
        return views.cluster(view)

    @r.post("/{name}/nodes/{node}/{action}", status_code=202, response_model=Accepted,
            summary="Cordon, uncordon or drain a node", responses=errors(*COMMAND))
    async def node_action(name: str, node: str, action: Literal["cordon", "uncordon", "drain"],
                          body: NodeActionIn | None = None, principal=Depends(permitted("clusters:write")),
                          idempotency_key: str | None = KEY) -> dict:
        id = f.node_id(name, node)
        if s.registry.nodes.get(id) is None:
            raise missing("node", f"{name}/{node}")
        reason = body.reason if body else ""
        fields = {"cluster": name, "node": node} | ({"reason": reason} if action != "uncordon" else {})
        ids = s.idempotency.ids(f"{action}_node", PLATFORM_TENANT, principal.user_id, idempotency_key,
                                reason, object_id=id)
        outcome = await execute(s, credited(principal), PLATFORM_TENANT, build(ACTIONS[action], **fields),
                                ids.command_id, on=(PLATFORM_TENANT, "node", id) if ids.keyed else None)
        view = s.registry.nodes.get(id)
        return accepted(id, view.status if view else None, views.node_link(name, node), outcome)

    return r
