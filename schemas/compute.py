"""Compute: what the control plane tells a cluster's executor to do (stream EXEC).

Subject `exec.<cluster>.<tenant>.<job_id>`; body = an envelope of one of these
commands under the job's tenant. They are not decided by an aggregate: the
dispatch reactor (bus/control/dispatch.py) derives them from job events, and
the cluster's backend (adapters/) acts on them and reports what it observes
as scheduling commands on CMD (ReportJobStarting/Running/Exited, with the
attempt).

`attempt` is the job's run number: the count of its placements (the first
JobPlaced is attempt 1; every requeue + placement adds one). An executor runs
(job_id, attempt) at most once and stops only the attempt a StopJob names.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from schemas.base import Command
from schemas.jobs import JobSpec, Placement
from schemas.values import Token, Value

Attempt = Annotated[int, Field(ge=1)]


class ResolvedInput(Value):
    """An upstream task's output, resolved to the job (and its run) that produced it."""

    task: Token
    output: Token
    job_id: Token
    attempt: Attempt = 1


class LaunchJob(Command):
    """Run this attempt of the job on the members of `placements` that are on the receiving cluster."""

    TYPE = "tessera.compute.launch_job.v1"
    tenant: Token
    job_id: Token
    attempt: Attempt
    spec: JobSpec
    placements: list[Placement] = Field(min_length=1)
    workflow_id: Token | None = None
    task: Token | None = None
    inputs: list[ResolvedInput] = Field(default_factory=list)
    outputs: list[Token] = Field(default_factory=list)  # names the task declares (workflow tasks)


class StopJob(Command):
    """Stop this attempt if it still runs (cancel, preemption, requeue, failure); unknown attempts: nothing."""

    TYPE = "tessera.compute.stop_job.v1"
    tenant: Token
    job_id: Token
    attempt: Attempt
    reason: str = ""
