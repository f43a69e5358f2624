"""The deployments read model: the domain's fold per deployment, tenant-safe, listed, hashed, snapshotted."""

from __future__ import annotations

from datetime import datetime

from domains.inference import decide, fold
from projections.registry import Registry
from projections.snapshots import capture, restore
from schemas import inference as inf
from tests.factories.projections import History, at

SPEC = inf.DeploymentSpec(name="chat", model="m", gpus=1, min_replicas=1, max_replicas=3, replicas=2)
T0 = datetime(2030, 1, 1, tzinfo=at(0).tzinfo)


def play(h: History, state, command, tenant: str = "acme", at_s: float | None = None):
    events = decide(state, command, now=T0)
    for event in events:
        h.add(event, tenant=tenant, aggregate="deployment", aggregate_id=command.deployment_id, at_s=at_s)
    return fold(events, state)


def model_of(h: History) -> Registry:
    registry = Registry()
    for env, seq in h.events:
        registry.apply(env, seq)
    return registry


def test_the_view_is_the_domains_state_with_its_replicas_and_last_scale_time():
    h = History()
    state = play(h, fold([]), inf.CreateDeployment(deployment_id="d1", spec=SPEC), at_s=0)
    state = play(h, state, inf.RecordReplicaState(deployment_id="d1", replica=0, generation=1, state="placed"))
    state = play(h, state, inf.ScaleDeployment(deployment_id="d1", replicas=3), at_s=42)
    view = model_of(h).deployments.get("d1")
    assert view.state == state and view.tenant == "acme" and view.name == "chat"
    assert [(r.index, r.status) for r in view.state.replicas] == [(0, "placed"), (1, "pending"), (2, "pending")]
    assert view.last_scaled_at == at(42) and view.created_at == at(0)
    assert model_of(h).deployments.get("d1", tenant="globex") is None


def test_events_under_another_tenant_never_touch_the_deployment():
    h = History()
    state = play(h, fold([]), inf.CreateDeployment(deployment_id="d1", spec=SPEC))
    play(h, state, inf.StopDeployment(deployment_id="d1"), tenant="globex")  # same id, other tenant
    view = model_of(h).deployments.get("d1")
    assert view.status != "stopped" and not view.state.stopped


def test_list_filters_by_tenant_and_status_and_the_hash_and_snapshot_round_trip():
    h = History()
    d1 = play(h, fold([]), inf.CreateDeployment(deployment_id="d1", spec=SPEC))
    play(h, fold([]), inf.CreateDeployment(deployment_id="d2", spec=SPEC), tenant="globex")
    play(h, d1, inf.StopDeployment(deployment_id="d1"))
    registry = model_of(h)
    assert [v.id for v in registry.deployments.list(tenant="acme").items] == ["d1"]
    assert [v.id for v in registry.deployments.list(status="stopped").items] == ["d1"]
    assert [v.id for v in registry.deployments.list(sort="created").items] == ["d1", "d2"]
    restored = Registry()
    assert restore(restored, capture(registry, "s1"), "s1") == registry.position()
    assert restored.state_hash() == registry.state_hash() != Registry().state_hash()
    assert restored.deployments.get("d1").state == registry.deployments.get("d1").state
