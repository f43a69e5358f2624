"""Clusters and nodes read models: inventory, free/used GPUs from placements, cordon, health."""

from __future__ import annotations

from projections.registry import Registry
from schemas import fleet as f
from schemas import jobs as j
from tests.factories.projections import (
    History,
    admitted_and_queued,
    cluster_onboarded,
    job_placed,
    node_lost,
    node_registered,
    slot,
    waiting,
)


def fold(h: History) -> Registry:
    registry = Registry()
    for env, seq in h.events:
        registry.apply(env, seq)
    return registry


def fleet(*nodes: f.NodeRegistered) -> History:
    h = History()
    h.fleet(cluster_onboarded("c1", pools=("train", "infer")))
    for node in nodes or (node_registered("n1", gpus=8),):
        h.fleet(node)
    return h


def test_a_cluster_counts_its_registered_nodes_and_gpus():
    h = fleet(node_registered("n1", gpus=8), node_registered("n2", gpus=4), node_registered("cpu", gpus=0))
    h.fleet(f.NodeRemoved(cluster="c1", node="n2"))
    cluster = fold(h).clusters.get("c1")
    assert (cluster.nodes, cluster.gpus_total, cluster.pools) == (2, 8, ("train", "infer"))


def test_clusters_filter_by_pool_and_region():
    h = fleet()
    h.fleet(cluster_onboarded("c2", pools=("infer",), region="us"))
    clusters = fold(h).clusters
    assert [c.name for c in clusters.list(pool="infer").items] == ["c1", "c2"]
    assert [c.name for c in clusters.list(region="us").items] == ["c2"]


def test_placed_gpus_are_used_until_the_job_ends():
    h = fleet(node_registered("n1", gpus=8))
    admitted_and_queued(h, "j1", gpus=2)
    h.job(job_placed("j1", slot("n1", (0, 1))))
    placed = fold(h).nodes.get("c1--n1")
    h.job(j.JobSucceeded(job_id="j1"))
    ended = fold(h).nodes.get("c1--n1")
    assert (placed.used_gpus, placed.free_gpus, placed.used_gpu_indices) == (2, 6, (0, 1))
    assert (ended.used_gpus, ended.free_gpus) == (0, 8)


def test_a_requeue_releases_exactly_the_gpus_of_that_job():
    h = fleet(node_registered("n1", gpus=8))
    admitted_and_queued(h, "j1")
    admitted_and_queued(h, "j2")
    h.job(job_placed("j1", slot("n1", (0,))))
    h.job(job_placed("j2", slot("n1", (1,))))
    h.job(j.JobRequeued(job_id="j1", reason=waiting("node_lost"), attempt=1))
    assert fold(h).nodes.get("c1--n1").used_gpu_indices == (1,)


def test_a_gang_job_uses_gpus_on_every_member_node():
    h = fleet(node_registered("n1", gpus=8), node_registered("n2", gpus=8))
    admitted_and_queued(h, "j1", gpus=8, gang=2)
    h.job(job_placed("j1", slot("n1", tuple(range(8))), slot("n2", tuple(range(8)))))
    nodes = fold(h).nodes
    assert [nodes.get(n).free_gpus for n in ("c1--n1", "c1--n2")] == [0, 0]


def test_node_status_reflects_cordon_drain_and_health():
    h = fleet(node_registered("n1"), node_registered("n2"), node_registered("n3"), node_registered("n4"))
    h.fleet(f.NodeCordoned(cluster="c1", node="n1"))
    h.fleet(f.NodeDrainRequested(cluster="c1", node="n2"))
    h.fleet(node_lost("n3"))
    h.fleet(f.NodeHealthy(cluster="c1", node="n4", at=h.events[0][0].time))
    nodes = fold(h).nodes
    assert [nodes.get(f"c1--n{i}").status for i in range(1, 5)] == ["cordoned", "draining", "lost", "ready"]
    assert (nodes.get("c1--n3").health_reason, nodes.get("c1--n4").health) == ("heartbeat_timeout", "healthy")


def test_uncordon_makes_a_node_ready_again():
    h = fleet()
    h.fleet(f.NodeDrainRequested(cluster="c1", node="n1"))
    h.fleet(f.NodeUncordoned(cluster="c1", node="n1"))
    assert fold(h).nodes.get("c1--n1").status == "ready"


def test_nodes_filter_by_status_pool_model_and_label_and_sort_by_free_gpus():
    h = fleet(node_registered("a", gpus=8, pool="train", labels={"ib": "yes"}),
              node_registered("b", gpus=4, pool="train", model="A100"),
              node_registered("c", gpus=8, pool="infer", labels={"ib": "yes"}))
    admitted_and_queued(h, "j1", gpus=6)
    h.job(job_placed("j1", slot("a", tuple(range(6)))))
    h.fleet(f.NodeCordoned(cluster="c1", node="c"))
    nodes = fold(h).nodes
    assert [n.name for n in nodes.list(pool="train", sort="free_gpus").items] == ["b", "a"]
    assert [n.name for n in nodes.list(label="ib=yes", status="ready").items] == ["a"]
    assert [n.name for n in nodes.list(gpu_model="A100").items] == ["b"]
    assert [n.name for n in nodes.list(status="cordoned").items] == ["c"]


def test_a_registry_replayed_from_zero_matches_the_live_one():
    h = fleet(node_registered("n1"))
    admitted_and_queued(h, "j1")
    h.job(job_placed("j1"))
    live = Registry()
    for env, seq in h.events[:3] + h.events:  # a redelivered prefix on the live one
        live.apply(env, seq)
    assert live.state_hash() == fold(h).state_hash() and live.position() == len(h.events)
