"""/v1/allocation/dry-run: where would this job fit right now, and why not elsewhere.

Answers from the gateway's copy of the placement engine's fleet (fleet.py,
folded from the same events as the control plane's placer) with
`domains.allocation.explain`: candidate nodes best first with the GPU indices
one member would get, per rejected node its reason, and what a placement pass
would decide for the whole job (placements, or the wait reason). Nothing is
sent or changed.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from gateway.http import bodies
from gateway.http.auth import Caller, reader
from gateway.http.docs import errors
from gateway.http.errors import from_validation
from gateway.http.services import Services
from schemas.allocation import DryRun
from schemas.jobs import JobSpec


def router(s: Services) -> APIRouter:
    r = APIRouter(prefix="/v1/allocation", tags=["allocation"])

    @r.post("/dry-run", response_model=DryRun, summary="Where would this job fit, and why not elsewhere",
            responses=errors(400, 413, 415, 422), openapi_extra=bodies.spec_schema(JobSpec, "the job's spec"))
    async def dry_run(request: Request, caller: Caller = Depends(reader("allocation:read"))) -> DryRun:
        data = bodies.mapping(await bodies.read_document(request), "job")
        try:
            spec = JobSpec.model_validate(data)
        except ValidationError as exc:
            raise from_validation(exc, "spec") from None
        return s.fleet.explain(spec, tenant=caller.acting, policy=s.placement_policy, now=s.clock())

    return r
