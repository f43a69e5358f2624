"""/v1/workflows: submit (JSON or YAML), list, get (the DAG with per-task state), cancel, events, watch.

A spec is checked by the workflow domain's validator before anything is
sent, so every problem (schema and graph: unknown tasks, cycles, groups,
exit codes) comes back at once in one 422, each with its `spec.` path.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from domains.scheduling.workflow import validate_workflow_spec
from gateway.http import bodies, events, sse, views
from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, SPEC_UPLOAD, errors
from gateway.http.errors import Invalid, missing
from gateway.http.idempotency import key_header
from gateway.http.models import (
    Accepted,
    CancelIn,
    EventOut,
    Page,
    WorkflowDetail,
    WorkflowOut,
)
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from projections.registry import WorkflowView
from schemas import workflows as w

TERMINAL_EVENTS = (w.WorkflowSucceeded, w.WorkflowFailed, w.WorkflowCancelled, w.WorkflowTimedOut)
KEY = key_header("workflow")


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/workflows", tags=["workflows"])
    paging = page_query(s.settings)

    def find(caller: Caller, id: str) -> WorkflowView:
        view = s.registry.workflows.get(id)
        if view is None or not caller.owns(view.tenant):
            raise missing("workflow", id)
        return view

    @r.post("", status_code=202, response_model=Accepted, summary="Submit a workflow",
            responses=errors(*SPEC_UPLOAD), openapi_extra=bodies.spec_schema(w.WorkflowSpec, "the workflow's DAG"))
    async def submit(request: Request, caller: Caller = Depends(writer("workflows:write")),
                     idempotency_key: str | None = KEY) -> dict:
        data = bodies.mapping(await bodies.read_document(request), "workflow")
        problems = validate_workflow_spec(data)
        if problems:
            raise Invalid([(bodies.prefixed(p.path), p.message) for p in problems])
        spec = w.WorkflowSpec.model_validate(data)
        reserved = [p for n, task in enumerate(spec.tasks)
                    for p in bodies.reserved_labels(task.labels, f"spec.tasks[{n}].labels")]
        if reserved:
            raise Invalid(reserved)
        tenant = caller.acting
        ids = s.idempotency.ids("submit_workflow", tenant, caller.user_id, idempotency_key, spec.model_dump_json())
        existing = s.registry.workflows.get(ids.object_id)
        if ids.keyed and existing is not None:
            return accepted(ids.object_id, existing.status, views.workflow_link(ids.object_id))
        command = build(w.SubmitWorkflow, workflow_id=ids.object_id, spec=spec)
        outcome = await execute(s, caller.actor, tenant, command, ids.command_id)
        view = s.registry.workflows.get(ids.object_id)
        return accepted(ids.object_id, view.status if view else None, views.workflow_link(ids.object_id), outcome)

    @r.get("", response_model=Page[WorkflowOut], summary="List workflows", responses=errors(400, 422))
    async def list_workflows(caller: Caller = Depends(reader("workflows:read")), p=Depends(paging),
                             status: str | None = Query(None, description="running|succeeded|failed|cancelled|"
                                                                          "timed_out"),
                             name: str | None = None,
                             sort: Literal["created", "-created", "updated", "-updated", "name", "-name"] = "-created"
                             ) -> dict:
        got = s.registry.workflows.list(tenant=caller.scope, status=status, name=name, sort=sort,
                                        page_size=p.page_size, cursor=p.cursor)
        return page([views.workflow(v) for v in got.items], got.next_cursor)

    @r.get("/{id}", response_model=WorkflowDetail, summary="Get a workflow: its DAG and per-task state",
           responses=errors(404))
    async def get_workflow(id: str, caller: Caller = Depends(reader("workflows:read"))) -> dict:
        return views.workflow(find(caller, id), tasks=True)

    @r.post("/{id}/cancel", status_code=202, response_model=Accepted, summary="Cancel a workflow",
            responses=errors(*COMMAND))
    async def cancel(id: str, body: CancelIn | None = None, caller: Caller = Depends(writer("workflows:write")),
                     idempotency_key: str | None = KEY) -> dict:
        view = find(caller, id)
        reason = body.reason if body else ""
        ids = s.idempotency.ids("cancel_workflow", view.tenant, caller.user_id, idempotency_key, reason,
                                object_id=id)
        command = build(w.CancelWorkflow, workflow_id=id, reason=reason)
        outcome = await execute(s, caller.actor, view.tenant, command, ids.command_id,
                                on=(view.tenant, "workflow", id) if ids.keyed else None)
        return accepted(id, s.registry.workflows.get(id).status, views.workflow_link(id), outcome)

    @r.get("/{id}/events", response_model=Page[EventOut], summary="The workflow's events", responses=errors(404))
    async def workflow_events(id: str, caller: Caller = Depends(reader("workflows:read"))) -> dict:
        view = find(caller, id)
        return page(await events.history(s.nc, view.tenant, "workflow", id), None)

    @r.get("/{id}/watch", summary="Stream the workflow's events (SSE) until it ends",
           responses={**errors(404), 200: {"content": {"text/event-stream": {}},
                                           "description": "`event: event` frames (EventOut), then `event: end`"}})
    async def watch(id: str, caller: Caller = Depends(reader("workflows:read"))):
        view = find(caller, id)
        source = events.live(s.nc, view.tenant, "workflow", id, lambda env: isinstance(env.data, TERMINAL_EVENTS))
        return sse.response(source, s.settings.sse_heartbeat, s.stopping)

    return r
