"""Dry-run: where a job would fit, scored, and for every other node why not."""

from __future__ import annotations

from domains.allocation import explain
from schemas.values import WaitReason
from tests.factories.allocation import (
    T0,
    fold,
    node_cordoned,
    node_registered,
    running,
    spec,
)


def test_lists_candidates_best_first_and_why_each_other_node_is_rejected():
    fleet = fold(node_registered("empty", 8), node_registered("half", 8), running("x", "half", [0, 1, 2, 3]),
                 node_registered("a100", 8, "A100"), node_registered("off", 8), node_cordoned("off"),
                 node_registered("tiny", 2))
    then = explain(fleet, spec("j", 4, gpu_model="H100"), now=T0)
    assert [(c.node, c.gpu_indices, c.free_gpus_after, c.score) for c in then.candidates] == [
        ("half", [4, 5, 6, 7], 0, 1.0), ("empty", [0, 1, 2, 3], 4, 0.5)]
    assert then.rejected == {
        "c1--a100": WaitReason(code="gpu_model", details={"want": "H100", "have": "A100"}),
        "c1--off": WaitReason(code="cordoned"),
        "c1--tiny": WaitReason(code="insufficient_gpus", details={"want": 4, "free": 2}),
    }
    assert [(p.node, p.gpu_indices) for p in then.placements] == [("half", [4, 5, 6, 7])] and then.reason is None


def test_spread_scores_the_emptiest_node_best():
    fleet = fold(node_registered("empty", 8), node_registered("half", 8), running("x", "half", [0, 1, 2, 3]))
    then = explain(fleet, spec("j", 2), policy="spread", now=T0)
    assert [c.node for c in then.candidates] == ["empty", "half"] and then.placements[0].node == "empty"


def test_explains_label_and_memory_rejections_per_node():
    fleet = fold(node_registered("n1", 8, labels={"zone": "a"}), node_registered("n2", 8),
                 node_registered("n3", 8, memory_gb=40, labels={"zone": "b"}))
    then = explain(fleet, spec("j", 1, node_selector={"zone": "b"}, min_gpu_memory_gb=80), now=T0)
    assert then.candidates == []
    assert {k: str(v) for k, v in then.rejected.items()} == {
        "c1--n1": "node_selector{key=zone, want=b, have=a}",
        "c1--n2": "node_selector{key=zone, want=b, have=none}",
        "c1--n3": "gpu_memory{want=80, have=40}",
    }
    # memory leaves n1 and n2, the selector then leaves nothing: the selector is what blocks
    assert str(then.reason) == "no_matching_nodes{constraint=node_selector, want=zone=b}"


def test_a_dry_run_reports_the_gang_outcome_and_changes_nothing():
    fleet = fold(node_registered("n1", 8), node_registered("n2", 8), running("x", "n2", [0]))
    before = fleet.snapshot()
    then = explain(fleet, spec("g", 8, gang=2), now=T0)
    assert [c.node for c in then.candidates] == ["n1"] and str(then.reason) == "gang_incomplete{want=2, fit=1}"
    assert fleet.snapshot() == before


def test_a_dry_run_names_the_jobs_it_would_preempt():
    fleet = fold(node_registered("n1", 4), running("low", "n1", [0, 1, 2, 3], priority=1, preemptible=True))
    assert explain(fleet, spec("j", 4, priority=600), now=T0).victims == ["low"]
