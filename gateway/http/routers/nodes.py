"""/v1/nodes: the fleet's nodes with free/used GPUs and state (platform objects: every role reads them)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from gateway.http import views
from gateway.http.auth import permitted
from gateway.http.docs import errors
from gateway.http.errors import missing
from gateway.http.models import NodeOut, Page
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from schemas.fleet import node_id


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/nodes", tags=["nodes"])
    paging = page_query(s.settings)

    @r.get("", response_model=Page[NodeOut], summary="List nodes", responses=errors(400, 422))
    async def list_nodes(_=Depends(permitted("nodes:read")), p=Depends(paging), cluster: str | None = None,
                         pool: str | None = None,
                         state: str | None = Query(None, description="ready|cordoned|draining|lost"),
                         gpu_model: str | None = None, label: str | None = Query(None, description="key or key=value"),
                         sort: Literal["id", "-id", "free_gpus", "-free_gpus"] = "id") -> dict:
        got = s.registry.nodes.list(cluster=cluster, pool=pool, status=state, gpu_model=gpu_model, label=label,
                                    sort=sort, page_size=p.page_size, cursor=p.cursor)
        return page([views.node(v) for v in got.items], got.next_cursor)

    @r.get("/{cluster}/{node}", response_model=NodeOut, summary="Get a node", responses=errors(404))
    async def get_node(cluster: str, node: str, _=Depends(permitted("nodes:read"))) -> dict:
        view = s.registry.nodes.get(node_id(cluster, node))
        if view is None:
            raise missing("node", f"{cluster}/{node}")
        return views.node(view)

    return r
