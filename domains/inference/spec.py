"""Deployment spec rules and the job a replica runs as: pure, shared by `decide` and the edge.

`problems(spec, prefix="spec")` lists every cross-field problem as (field path,
message); `check(spec)` raises the first as `InvalidDeployment`. The gateway
may call `problems` before sending (an immediate 422); `decide` calls `check`
again, so a command built without validation is refused all the same.

Rules: max_replicas >= min_replicas; an initial `replicas` within [min, max];
engine "vllm" needs gpus >= 1, engine "cpu" takes gpus == 0 (it would hold
GPUs it never uses); gpu_model needs gpus >= 1; autoscale's
scale_down_utilization below its target_utilization (the hysteresis band).

`replica_job(deployment_id, spec, replica, generation)` is the JobSpec the
inference reactor submits as `replica_job_id(...)` (uuid5, deterministic):
argv `tessera agent --deployment <id> --replica <n> --generation <g> --model
<m> --engine <e> --max-concurrent <k> [-- <engine_args>...]`, labels
`deployment`, `replica` and `tessera.dev/component=inference-agent`,
`on_node_lost="reschedule"` (the job aggregate re-places it), `max_retries=0`
(a replica that exits is replaced by the deployment, with a new generation).
"""

from __future__ import annotations

from domains.inference.errors import InvalidDeployment
from schemas import derived_id
from schemas.inference import DeploymentSpec
from schemas.jobs import JobSpec

AGENT_IMAGES = {"vllm": "ghcr.io/tessera-dev/agent-vllm:latest", "cpu": "ghcr.io/tessera-dev/agent-cpu:latest"}
COMPONENT_LABEL = "tessera.dev/component"
COMPONENT = "inference-agent"


def problems(spec: DeploymentSpec, prefix: str = "spec") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if spec.max_replicas < spec.min_replicas:
        out.append(("max_replicas", f"must be >= min_replicas ({spec.min_replicas})"))
    elif spec.replicas is not None and not spec.min_replicas <= spec.replicas <= spec.max_replicas:
        out.append(("replicas", (f"must be within min_replicas..max_replicas "
                                f"({spec.min_replicas}..{spec.max_replicas})")))
    if spec.engine == "vllm" and spec.gpus < 1:
        out.append(("gpus", "engine 'vllm' needs at least 1 GPU per replica (use engine 'cpu' without GPUs)"))
    if spec.engine == "cpu" and spec.gpus != 0:
        out.append(("gpus", "engine 'cpu' uses no GPUs: set gpus to 0"))
    if spec.gpu_model and spec.gpus < 1:
        out.append(("gpu_model", "needs gpus >= 1"))
    scale = spec.autoscale
    if scale is not None and scale.scale_down_utilization >= scale.target_utilization:
        out.append(("autoscale.scale_down_utilization",
                    f"must be below target_utilization ({scale.target_utilization})"))
    return [(f"{prefix}.{field}" if prefix else field, message) for field, message in out]


def check(spec: DeploymentSpec, prefix: str = "spec") -> None:
    found = problems(spec, prefix)
    if found:
        field, message = found[0]
        raise InvalidDeployment(message, field=field)


def initial_replicas(spec: DeploymentSpec) -> int:
    return spec.min_replicas if spec.replicas is None else spec.replicas


def replica_job_id(deployment_id: str, replica: int, generation: int) -> str:
    return derived_id("replica", deployment_id, replica, generation)


def agent_args(deployment_id: str, spec: DeploymentSpec, replica: int, generation: int) -> list[str]:
    args = ["--deployment", deployment_id, "--replica", str(replica), "--generation", str(generation),
            "--model", spec.model, "--engine", spec.engine, "--max-concurrent", str(spec.max_concurrent_requests)]
    return [*args, "--", *spec.engine_args] if spec.engine_args else args


def replica_job(deployment_id: str, spec: DeploymentSpec, replica: int, generation: int) -> JobSpec:
    labels = {**spec.labels, "deployment": deployment_id, "replica": str(replica), COMPONENT_LABEL: COMPONENT}
    return JobSpec(
        name=f"{spec.name}-r{replica}", image=spec.image or AGENT_IMAGES[spec.engine],
        command=["tessera", "agent"], args=agent_args(deployment_id, spec, replica, generation),
        gpus=spec.gpus, gpu_model=spec.gpu_model, cpu=spec.cpu, memory_gb=spec.memory_gb,
        priority=spec.priority, labels=labels, node_selector=spec.node_selector, pool=spec.pool,
        on_node_lost="reschedule", max_retries=0,
    )
