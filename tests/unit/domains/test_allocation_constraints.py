"""Constraints: GPU model, GPU memory, pool, platform, node selector, schedulability, NVLink and rack topology."""

from __future__ import annotations

from domains.allocation import Placed, place
from schemas.fleet import NodeUncordoned
from tests.factories.allocation import (
    T0,
    fold,
    job_queued,
    node_cordoned,
    node_draining,
    node_healthy,
    node_lost,
    node_registered,
    running,
)


def decide(fleet, **kw):
    return place(fleet, fleet.queue(), now=T0, **kw)


def placed_on(fleet, **kw):
    return [[a.node for a in d.placements] if isinstance(d, Placed) else str(d.reason) for d in decide(fleet, **kw)]


def test_places_only_on_nodes_of_the_requested_gpu_model():
    given = fold(node_registered("a100", 8, "A100"), node_registered("h100", 8, "H100"),
                 job_queued("j1", 1, gpu_model="H100"))
    assert placed_on(given) == [["h100"]]


def test_waits_for_a_model_no_node_has():
    given = fold(node_registered("a100", 8, "A100"), job_queued("j1", 1, gpu_model="B200"))
    assert placed_on(given) == ["no_matching_nodes{constraint=gpu_model, want=B200}"]


def test_skips_nodes_with_too_little_gpu_memory():
    given = fold(node_registered("small", 8, memory_gb=40), node_registered("big", 8, memory_gb=80),
                 job_queued("j1", 1, min_gpu_memory_gb=80), job_queued("j2", 1, min_gpu_memory_gb=141))
    assert placed_on(given) == [["big"], "no_matching_nodes{constraint=gpu_memory, want=141}"]


def test_places_only_in_the_requested_pool_and_platform():
    given = fold(node_registered("d1", 8), node_registered("t1", 8, pool="train", platform="dgx"),
                 node_registered("t2", 8, pool="train"),
                 job_queued("j1", 1, pool="train"), job_queued("j2", 1, pool="train", platform="dgx"),
                 job_queued("j3", 1, pool="infer"))
    assert placed_on(given) == [["t1"], ["t1"], "no_matching_nodes{constraint=pool, want=infer}"]


def test_places_only_on_nodes_carrying_the_selected_labels():
    given = fold(node_registered("n1", 8, labels={"zone": "a"}), node_registered("n2", 8, labels={"zone": "b", "ib": "yes"}),
                 job_queued("j1", 1, node_selector={"zone": "b", "ib": "yes"}),
                 job_queued("j2", 1, node_selector={"zone": "c"}))
    assert placed_on(given) == [["n2"], "no_matching_nodes{constraint=node_selector, want=zone=c}"]


def test_skips_cordoned_draining_and_lost_nodes():
    given = fold(node_registered("c", 8), node_registered("d", 8), node_registered("l", 8), node_registered("ok", 2),
                 node_cordoned("c"), node_draining("d"), node_lost("l"), job_queued("j1", 2), job_queued("j2", 2))
    assert placed_on(given) == [["ok"], "insufficient_gpus{model=any, want=2, max_free=0}"]


def test_waits_with_a_schedulability_reason_when_every_node_is_cordoned():
    given = fold(node_registered("n1", 8), node_cordoned("n1"), job_queued("j1", 1))
    assert placed_on(given) == ["no_matching_nodes{constraint=schedulable}"]


def test_uncordoned_and_healthy_nodes_take_work_again():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), node_cordoned("n1"), node_lost("n2"),
                 NodeUncordoned(cluster="c1", node="n1"), node_healthy("n2"), job_queued("j1", 8), job_queued("j2", 8))
    assert placed_on(given) == [["n1"], ["n2"]]


def test_multi_gpu_members_need_a_node_with_an_nvlink_domain():
    given = fold(node_registered("pcie", 8, nvlink=None), job_queued("j1", 4), job_queued("single", 1),
                 job_queued("relaxed", 4, same_nvlink=False))
    assert placed_on(given) == [
        "topology{constraint=same_nvlink_domain, nvlink_domain=none, gpus=4}", ["pcie"], ["pcie"]]


def test_multi_gpu_members_go_to_nvlink_nodes_when_there_are_both():
    given = fold(node_registered("pcie", 8, nvlink=None), node_registered("nvl", 8, nvlink="nvl-0"),
                 job_queued("j1", 4), job_queued("j2", 4))
    assert placed_on(given) == [["nvl"], ["nvl"]]


def test_gang_members_stay_in_one_rack_when_asked():
    given = fold(node_registered("a1", 8, rack="ra"), node_registered("b1", 8, rack="rb"),
                 node_registered("b2", 8, rack="rb"), running("busy", "b2", [0, 1, 2, 3]),
                 job_queued("g", 8, gang=2, same_rack=True))
    assert placed_on(given) == ["topology{constraint=same_rack, want=2, max_fit_in_rack=1}"]


def test_gang_in_one_rack_picks_a_rack_where_all_members_fit():
    given = fold(node_registered("a1", 8, rack="ra"), node_registered("b1", 8, rack="rb"),
                 node_registered("b2", 8, rack="rb"), job_queued("g", 8, gang=2, same_rack=True))
    assert placed_on(given) == [["b1", "b2"]]


def test_nodes_without_a_rack_cannot_host_a_same_rack_gang():
    given = fold(node_registered("n1", 8), node_registered("n2", 8), job_queued("g", 8, gang=2, same_rack=True))
    assert placed_on(given) == ["topology{constraint=same_rack, want=2, max_fit_in_rack=0}"]
