"""/v1/jobs: submit (JSON or YAML), list, get, cancel, events, logs, watch.

Reads come from the gateway's jobs read model, scoped to the caller's tenant
(another tenant's job answers exactly like a missing one). A submission with
an `Idempotency-Key` derives the job id from the key: a retry answers with
the same job, never a second one.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError

from gateway.http import bodies, events, logs, sse, views
from gateway.http.auth import Caller, reader, writer
from gateway.http.commands import accepted, build, execute
from gateway.http.docs import COMMAND, SPEC_UPLOAD, errors
from gateway.http.errors import Invalid, from_validation, missing
from gateway.http.idempotency import key_header
from gateway.http.models import (
    Accepted,
    CancelIn,
    EventOut,
    JobDetail,
    JobOut,
    LogLineOut,
    Page,
)
from gateway.http.pages import page, page_query
from gateway.http.services import Services
from projections.registry import JobView
from schemas import jobs as j

TERMINAL_EVENTS = (j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted, j.JobRejected)
KEY = key_header("job")


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/jobs", tags=["jobs"])
    paging = page_query(s.settings)

    def find(caller: Caller, id: str) -> JobView:
        view = s.registry.jobs.get(id)
        if view is None or not caller.owns(view.tenant):
            raise missing("job", id)
        return view

    @r.post("", status_code=202, response_model=Accepted, summary="Submit a job",
            responses=errors(*SPEC_UPLOAD), openapi_extra=bodies.spec_schema(j.JobSpec, "the job's spec"))
    async def submit(request: Request, caller: Caller = Depends(writer("jobs:write")),
                     idempotency_key: str | None = KEY) -> dict:
        data = bodies.mapping(await bodies.read_document(request), "job")
        try:
            spec = j.JobSpec.model_validate(data)
        except ValidationError as exc:
            raise from_validation(exc, "spec") from None
        if problems := bodies.reserved_labels(spec.labels, "spec.labels"):
            raise Invalid(problems)
        tenant = caller.acting
        ids = s.idempotency.ids("submit_job", tenant, caller.user_id, idempotency_key, spec.model_dump_json())
        existing = s.registry.jobs.get(ids.object_id)
        if ids.keyed and existing is not None:
            return accepted(ids.object_id, existing.status, views.job_link(ids.object_id))
        command = build(j.SubmitJob, job_id=ids.object_id, spec=spec)
        outcome = await execute(s, caller.actor, tenant, command, ids.command_id)
        view = s.registry.jobs.get(ids.object_id)
        return accepted(ids.object_id, view.status if view else None, views.job_link(ids.object_id), outcome)

    @r.get("", response_model=Page[JobOut], summary="List jobs", responses=errors(400, 422))
    async def list_jobs(caller: Caller = Depends(reader("jobs:read")), p=Depends(paging),
                        status: str | None = Query(None, description="submitted|admitted|queued|placed|starting|"
                                                                      "running|succeeded|failed|cancelled|"
                                                                      "preempted|rejected"),
                        pool: str | None = None, label: str | None = Query(None, description="key or key=value"),
                        workflow: str | None = None,
                        sort: Literal["created", "-created", "priority", "-priority", "name", "-name"] = "-created"
                        ) -> dict:
        got = s.registry.jobs.list(tenant=caller.scope, status=status, pool=pool, label=label, workflow=workflow,
                                   sort=sort, page_size=p.page_size, cursor=p.cursor)
        return page([views.job(v) for v in got.items], got.next_cursor)

    @r.get("/{id}", response_model=JobDetail, summary="Get a job (with its spec)", responses=errors(404))
    async def get_job(id: str, caller: Caller = Depends(reader("jobs:read"))) -> dict:
        view = find(caller, id)
        submitted = await events.first(s.nc, view.tenant, "job", id, j.JobSubmitted.TYPE)
        return {**views.job(view), "spec": submitted.data.spec if submitted else None}

    @r.post("/{id}/cancel", status_code=202, response_model=Accepted, summary="Cancel a job",
            responses=errors(*COMMAND))
    async def cancel(id: str, body: CancelIn | None = None, caller: Caller = Depends(writer("jobs:write")),
                     idempotency_key: str | None = KEY) -> dict:
        view = find(caller, id)
        reason = body.reason if body else ""
        ids = s.idempotency.ids("cancel_job", view.tenant, caller.user_id, idempotency_key, reason, object_id=id)
        command = build(j.CancelJob, job_id=id, reason=reason)
        outcome = await execute(s, caller.actor, view.tenant, command, ids.command_id,
                                on=(view.tenant, "job", id) if ids.keyed else None)
        return accepted(id, s.registry.jobs.get(id).status, views.job_link(id), outcome)

    @r.get("/{id}/events", response_model=Page[EventOut], summary="The job's events", responses=errors(404))
    async def job_events(id: str, caller: Caller = Depends(reader("jobs:read"))) -> dict:
        view = find(caller, id)
        return page(await events.history(s.nc, view.tenant, "job", id), None)

    @r.get("/{id}/logs", response_model=Page[LogLineOut], summary="The job's log lines",
           description="JSON pages of lines in order; `?follow=true` or `Accept: text/event-stream` streams "
                       "them as server-sent events (`event: log`) until the job has ended.",
           responses={**errors(404, 422), 200: {"content": {"text/event-stream": {}}}})
    async def job_logs(request: Request, id: str, caller: Caller = Depends(reader("jobs:read")),
                       follow: bool = False, cursor: int = Query(0, ge=0, description="the last seq already read"),
                       limit: int = Query(5000, ge=1, le=50_000)):
        view = find(caller, id)
        if follow or "text/event-stream" in request.headers.get("accept", ""):
            source = logs.follow(s, view, after=cursor)
            return sse.response(source, s.settings.sse_heartbeat, s.stopping)
        lines, more = await logs.read(s, view, after=cursor, limit=limit)
        return page(lines, str(lines[-1]["seq"]) if more and lines else None)

    @r.get("/{id}/watch", summary="Stream the job's events (SSE) until it ends",
           responses={**errors(404), 200: {"content": {"text/event-stream": {}},
                                           "description": "`event: event` frames (EventOut), then `event: end`"}})
    async def watch(id: str, caller: Caller = Depends(reader("jobs:read"))):
        view = find(caller, id)
        source = events.live(s.nc, view.tenant, "job", id, lambda env: isinstance(env.data, TERMINAL_EVENTS))
        return sse.response(source, s.settings.sse_heartbeat, s.stopping)

    return r
