"""Cluster aggregate: onboarding from a spec, idempotency, conflicts, adding and removing nodes."""

from __future__ import annotations

import pytest

from domains.errors import Conflict, NotFound
from domains.registry import (
    CLUSTER,
    NODE,
    InvalidSpec,
    decide_cluster,
    fold_cluster,
    node_mirror,
    parse_cluster_spec,
    target,
)
from schemas.fleet import ClusterOnboarded, NodeRegistered, NodeRemoved
from tests.factories.registry import (
    T0,
    add_node,
    cluster_onboarded,
    cluster_spec,
    cordon,
    fixture_text,
    node,
    node_registered,
    node_removed,
    onboard,
    pool,
    remove_node,
)


def onboarded(*names: str) -> list:
    return [cluster_onboarded(), *(node_registered(n) for n in names)]


def test_onboarding_emits_the_cluster_and_every_node_in_one_decision():
    spec = parse_cluster_spec(fixture_text("h100-two-pools.yaml"))
    then = decide_cluster(fold_cluster([]), onboard(spec), now=T0)
    assert [type(e) for e in then] == [ClusterOnboarded] + [NodeRegistered] * 4
    assert then[0].name == "gpu-east-1" and [p.name for p in then[0].pools] == ["training", "inference"]
    assert [(e.cluster, e.node) for e in then[1:]] == [("gpu-east-1", n) for n in spec.nodes]


def test_an_onboarded_cluster_knows_its_pools_and_nodes():
    spec = parse_cluster_spec(fixture_text("h100-two-pools.yaml"))
    state = fold_cluster(decide_cluster(fold_cluster([]), onboard(spec), now=T0))
    assert (state.name, state.region, state.backend) == ("gpu-east-1", "us-east-1", "kubernetes")
    assert state.pool("inference").platforms == ["h100-sxm", "h100-mig"]
    assert [n.name for n in state.nodes] == ["gpu-01", "gpu-02", "gpu-03", "gpu-04"]


def test_resending_the_identical_spec_changes_nothing():
    command = onboard()
    state = fold_cluster(decide_cluster(fold_cluster([]), command, now=T0))
    assert decide_cluster(state, command, now=T0) == []


def test_node_order_does_not_make_an_identical_spec_different():
    state = fold_cluster(decide_cluster(fold_cluster([]), onboard(cluster_spec(node("n1"), node("n2"))), now=T0))
    assert decide_cluster(state, onboard(cluster_spec(node("n2"), node("n1"))), now=T0) == []


def test_onboarding_an_existing_cluster_with_another_spec_is_a_conflict():
    state = fold_cluster(onboarded("n1", "n2"))
    with pytest.raises(Conflict) as raised:
        decide_cluster(state, onboard(cluster_spec(node("n1"), node("n2", gpu_count=4))), now=T0)
    assert (raised.value.code, raised.value.field) == ("cluster_exists", "spec.name")


def test_onboarding_after_a_node_was_added_is_a_conflict_not_a_silent_no_op():
    state = fold_cluster([*onboarded("n1", "n2"), node_registered("n3")])
    with pytest.raises(Conflict):
        decide_cluster(state, onboard(), now=T0)


def test_onboarding_rechecks_the_cross_field_rules_and_reports_all_under_spec():
    bad = cluster_spec(node("n1", pool="nope"), node("n1", gpu_model=None))
    with pytest.raises(InvalidSpec) as raised:
        decide_cluster(fold_cluster([]), onboard(bad), now=T0)
    assert [p.path for p in raised.value.problems] == [
        "spec.nodes[0].pool", "spec.nodes[1].name", "spec.nodes[1].gpu_model"]


def test_adding_a_node_registers_it():
    then = decide_cluster(fold_cluster(onboarded("n1")), add_node("n2"), now=T0)
    assert then == [NodeRegistered(cluster="c1", node=node("n2"))]


def test_adding_a_node_with_a_taken_name_is_a_conflict():
    with pytest.raises(Conflict) as raised:
        decide_cluster(fold_cluster(onboarded("n1")), add_node("n1"), now=T0)
    assert (raised.value.code, raised.value.field) == ("node_exists", "node.name")


def test_adding_a_node_to_an_undeclared_pool_is_rejected_with_its_path():
    with pytest.raises(InvalidSpec) as raised:
        decide_cluster(fold_cluster(onboarded("n1")), add_node("n2", pool="inference"), now=T0)
    assert [p.path for p in raised.value.problems] == ["node.pool"]


def test_adding_a_node_checks_platform_and_gpu_rules_all_at_once():
    command = add_node("n2", platform="a100", gpu_memory_gb=0)
    with pytest.raises(InvalidSpec) as raised:
        decide_cluster(fold_cluster(onboarded("n1")), command, now=T0)
    assert [p.path for p in raised.value.problems] == ["node.platform", "node.gpu_memory_gb"]


def test_adding_a_node_to_a_cluster_not_onboarded_is_not_found():
    with pytest.raises(NotFound) as raised:
        decide_cluster(fold_cluster([]), add_node("n1"), now=T0)
    assert (raised.value.code, raised.value.field) == ("cluster_not_found", "cluster")


def test_removing_a_node_emits_its_removal_and_frees_the_name():
    state = fold_cluster(onboarded("n1", "n2"))
    then = decide_cluster(state, remove_node("n1"), now=T0)
    assert then == [NodeRemoved(cluster="c1", node="n1")]
    after = fold_cluster(then, state)
    assert [n.name for n in after.nodes] == ["n2"]
    assert decide_cluster(after, add_node("n1"), now=T0) == [NodeRegistered(cluster="c1", node=node("n1"))]


@pytest.mark.parametrize("given", [onboarded("n1"), [*onboarded("n1", "n2"), node_removed("n2")]])
def test_removing_an_unknown_node_is_not_found(given):
    with pytest.raises(NotFound) as raised:
        decide_cluster(fold_cluster(given), remove_node("n2"), now=T0)
    assert (raised.value.code, raised.value.field) == ("node_not_found", "node")


def test_cluster_commands_go_to_the_cluster_and_node_commands_to_the_node():
    assert target(onboard()) == (CLUSTER, "c1")
    assert target(add_node("n3")) == (CLUSTER, "c1")
    assert target(cordon("n1")) == (NODE, "c1--n1")


def test_node_registration_and_removal_are_mirrored_onto_the_node_aggregate():
    assert node_mirror(node_registered("n1")) == "c1--n1"
    assert node_mirror(node_removed("n1")) == "c1--n1"
    assert node_mirror(cluster_onboarded()) is None


def test_a_second_pool_admits_its_own_nodes():
    spec = cluster_spec(node("n1"), node("n2", pool="infer", platform=None), pools=(pool(), pool("infer", ())))
    then = decide_cluster(fold_cluster([]), onboard(spec), now=T0)
    assert len(then) == 3
