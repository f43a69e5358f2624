"""Fleet specs: both forms expand to the clusters onboarded; every problem is named by its path and line."""

from __future__ import annotations

import pytest

from adapters.simulator.backend import ONBOARD_BYTES, onboarding_chunk
from adapters.simulator.dice import Dice
from adapters.simulator.fleet import FleetSpecError, parse_fleet
from adapters.simulator.spec import Simulation
from schemas.jobs import JobSpec

FULL = """
clusters:
  - name: sim-a
    nodes:
      - {name: big1, gpu_model: H200, gpu_count: 8, gpu_memory_gb: 141, nvlink_domain: d1, rack: r9}
    generate: {nodes: 12, gpus_per_node: 4, gpu_model: A100, racks: 3, prefix: a}
  - name: sim-b
    pools: [{name: train, platforms: [dgx]}]
    generate:
      - {nodes: 2, pool: train, platform: dgx}
      - {nodes: 1, gpus_per_node: 0, prefix: cpu, pool: train}
simulation: {seed: 5, job_failure_probability: 0.1, heartbeat_interval_s: null}
"""


def problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(FleetSpecError) as info:
        parse_fleet(text)
    return [(p.path, p.line, p.message) for p in info.value.problems]


def test_the_full_form_keeps_explicit_nodes_and_generates_the_rest():
    fleet = parse_fleet(FULL)
    a, b = fleet.clusters
    assert (a.name, a.backend, len(a.nodes), b.name, len(b.nodes)) == ("sim-a", "simulator", 13, "sim-b", 3)
    assert a.nodes[0].gpu_model == "H200" and a.nodes[0].rack == "r9"
    generated = a.nodes[1:]
    assert [n.name for n in generated[:3]] == ["a00", "a01", "a02"]
    assert {n.gpu_model for n in generated} == {"A100"} and {n.gpu_count for n in generated} == {4}
    assert [sum(n.rack == f"sim-a-rack{r}" for n in generated) for r in range(3)] == [4, 4, 4]
    assert all(n.nvlink_domain == f"{n.name}-nvl" for n in generated)
    cpu = b.nodes[-1]
    assert (cpu.name, cpu.gpu_count, cpu.gpu_model, cpu.nvlink_domain) == ("cpu0", 0, None, None)
    assert {n.labels["tessera.dev/backend"] for c in fleet.clusters for n in c.nodes} == {"simulator"}
    assert fleet.simulation.seed == 5 and fleet.simulation.heartbeat_interval_s is None
    assert fleet.nodes == 16


def test_the_compact_form_is_one_cluster_that_declares_its_pool():
    fleet = parse_fleet('{"nodes": 5000, "gpus_per_node": 8, "gpu_model": "H100", "racks": 50, "pool": "gpu"}')
    (cluster,) = fleet.clusters
    assert (cluster.name, len(cluster.nodes), cluster.nodes[-1].name) == ("sim", 5000, "n4999")
    assert [p.name for p in cluster.pools] == ["gpu"] and len({n.rack for n in cluster.nodes}) == 50


def test_schema_problems_name_their_path_and_line():
    assert problems('nodes: "8"\ngpus_per_node: -1\ngpu_modle: H100\n') == [
        ("nodes", 1, "Input should be a valid integer, got str '8'"),
        ("gpus_per_node", 2, "must be >= 0, got -1"),
        ("gpu_modle", 3, "unknown field (did you mean 'gpu_model'?)"),
    ]
    found = problems("clusters:\n  - name: a\n    generate: {nodes: 0}\nsimulation: {time_scale: 0, colour: red}\n")
    assert [(path, line) for path, line, _ in found] == [
        ("clusters[0].generate[0].nodes", 3), ("simulation.time_scale", 4), ("simulation.colour", 4)]


def test_cluster_rules_point_at_the_explicit_node_or_the_generator_that_broke_them():
    found = problems("""
clusters:
  - name: a
    nodes: [{name: x, gpu_count: 2, gpu_memory_gb: 80}, {name: x, pool: nope}]
    generate: {nodes: 3, gpu_model: null}
  - name: a
    generate: [{nodes: 2, prefix: n}, {nodes: 2, prefix: n}]
""")
    assert found == [
        ("clusters[0].nodes[0].gpu_model", 4, "required when gpu_count > 0 (got gpu_count 2)"),
        ("clusters[0].nodes[1].name", 4, "duplicate node name 'x' (first at clusters[0].nodes[0])"),
        ("clusters[0].nodes[1].pool", 4, "pool 'nope' is not declared in pools (declared: default)"),
        ("clusters[0].generate[0].gpu_model", 5, "required when gpu_count > 0 (got gpu_count 8)"),
        ("clusters[1].name", 6, "duplicate cluster name 'a' (first at clusters[0])"),
        ("clusters[1].generate[1].prefix", 7,
         "duplicate node name 'n0' (first at clusters[1].generate[0] node 0)"),
    ]


@pytest.mark.parametrize("text, path", [
    ("clusters: [", ""),
    ("[1, 2]", ""),
    ("clusters: []", "clusters"),
    ("{nodes: 2, simulation: {failure_exit_code: 0}}", "simulation"),
    ("{nodes: 2, simulation: {duration: {distribution: uniform, min_s: 5, max_s: 1}}}", "simulation.duration"),
    ("{nodes: 2, simulation: {job_failure_probability: 1.5}}", "simulation.job_failure_probability"),
])
def test_malformed_fleets_are_refused_with_the_path(text, path):
    assert [p for p, _, _ in problems(text)] == [path]


def test_onboarding_chunks_stay_far_below_a_message():
    nodes = parse_fleet("{nodes: 5000}").clusters[0].nodes
    first = onboarding_chunk(nodes)
    assert 0 < first <= 500
    assert sum(len(n.model_dump_json()) for n in nodes[:first]) <= ONBOARD_BYTES
    assert onboarding_chunk(nodes[:3]) == 3


def test_durations_come_from_the_spec_or_a_seeded_distribution():
    spec = JobSpec(name="j", image="i")
    sim = Simulation.model_validate({"seed": 4, "duration": {"distribution": "exponential", "mean_s": 2}})
    draws = [Dice(sim).duration(spec) for _ in range(2)]
    assert draws[0] == draws[1] > 0
    assert Dice(sim).duration(spec.model_copy(update={"duration_s": 9.0})) == 9.0
    uniform = Dice(Simulation.model_validate({"duration": {"min_s": 2, "max_s": 3}}))
    assert all(2 <= uniform.duration(spec) <= 3 for _ in range(50))


def test_injected_outcomes_follow_their_probabilities():
    dice = Dice(Simulation(seed=1, job_failure_probability=0.3, node_loss_probability=0.1))
    counts = {"succeed": 0, "fail": 0, "lose_node": 0}
    for _ in range(5000):
        counts[dice.outcome()] += 1
    assert 1300 < counts["fail"] < 1700 and 350 < counts["lose_node"] < 650
    assert {Dice(Simulation()).outcome() for _ in range(100)} == {"succeed"}


def test_the_demo_fleet_file_is_valid():
    from pathlib import Path

    from adapters.simulator import load_fleet

    fleet = load_fleet(Path(__file__).parents[2] / "fixtures/fleets/demo.yaml")
    assert [c.name for c in fleet.clusters] == ["sim-east", "sim-west"] and fleet.nodes == 11
