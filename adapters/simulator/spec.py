"""The fleet spec of the simulator: its clusters and nodes, and how simulated jobs behave.

Two forms (YAML or JSON):

    # full: clusters with explicit nodes and/or generated ones
    clusters:
      - name: sim-a
        pools: [{name: default}]
        nodes: [{name: big1, gpu_model: H200, gpu_count: 8, gpu_memory_gb: 141, nvlink_domain: d1, rack: r1}]
        generate: {nodes: 64, gpus_per_node: 8, gpu_model: H100, racks: 4}
    simulation: {seed: 7, duration: {distribution: exponential, mean_s: 30}, job_failure_probability: 0.05}

    # compact: one cluster (`name`, default "sim") of generated nodes
    {nodes: 5000, gpus_per_node: 8, gpu_model: H100, racks: 50}

Generated nodes are `<prefix><index>` (zero-padded), one NVLink domain per
node (`<node>-nvl`), spread evenly over `racks` racks (`<cluster>-rack<k>`),
labelled `tessera.dev/backend: simulator`. Only shapes here: parsing and the
rules with their paths are in fleet.py.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from schemas.fleet import NodeSpec, PoolSpec
from schemas.values import Labels, Token, Value

Probability = Annotated[float, Field(ge=0, le=1)]
Seconds = Annotated[float, Field(ge=0)]


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value  # `generate: {...}` is a list of one


class Generate(Value):
    nodes: Annotated[int, Field(ge=1, le=100_000)]
    gpus_per_node: Annotated[int, Field(ge=0, le=64)] = 8
    gpu_model: str | None = "H100"
    gpu_memory_gb: Annotated[int, Field(ge=0)] = 80
    racks: Annotated[int, Field(ge=1)] = 1
    prefix: Token = "n"
    pool: Token = "default"
    platform: Token | None = None
    cpu: Annotated[float, Field(ge=0)] = 96
    memory_gb: Annotated[float, Field(ge=0)] = 1024
    labels: Labels = Field(default_factory=dict)


class FleetCluster(Value):
    name: Token
    region: Token = "sim"
    pools: list[PoolSpec] = Field(default_factory=lambda: [PoolSpec(name="default")])
    nodes: list[NodeSpec] = Field(default_factory=list)
    generate: Annotated[list[Generate], BeforeValidator(_listed)] = Field(default_factory=list)
    labels: Labels = Field(default_factory=dict)


class Duration(Value):
    """A run's length when its spec has no `duration_s`: fixed `seconds`, uniform in [min_s, max_s], or exponential."""

    distribution: Literal["fixed", "uniform", "exponential"] = "uniform"
    seconds: Annotated[float, Field(gt=0)] = 5.0
    min_s: Seconds = 1.0
    max_s: Seconds = 10.0
    mean_s: Annotated[float, Field(gt=0)] = 5.0

    @model_validator(mode="after")
    def _ordered(self) -> Duration:
        if self.distribution == "uniform" and self.max_s < self.min_s:
            raise ValueError(f"max_s ({self.max_s}) is below min_s ({self.min_s})")
        return self


class Simulation(Value):
    seed: int = 0
    time_scale: Annotated[float, Field(gt=0)] = 1.0  # simulated seconds x this = wall seconds
    duration: Duration = Field(default_factory=Duration)
    startup_s: Seconds = 0.0  # between starting and running
    job_failure_probability: Probability = 0.0
    failure_exit_code: int = 1
    node_loss_probability: Probability = 0.0  # per run: its node is lost instead of the run exiting
    mark_lost: bool = True  # also send MarkNodeLost (else the heartbeat checker notices the silence)
    node_recover_s: Seconds | None = None  # a lost node beats again after this long; None: never
    heartbeat_interval_s: Annotated[float, Field(gt=0)] | None = 10.0  # None: no heartbeats (benchmarks)

    @model_validator(mode="after")
    def _failing(self) -> Simulation:
        if self.failure_exit_code == 0:
            raise ValueError("failure_exit_code must not be 0 (0 is success)")
        return self


class FleetSpec(Value):
    clusters: list[FleetCluster] = Field(min_length=1)
    simulation: Simulation = Field(default_factory=Simulation)


class CompactFleet(Generate):
    name: Token = "sim"
    region: Token = "sim"
    simulation: Simulation = Field(default_factory=Simulation)
