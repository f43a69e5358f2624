"""Every aggregate's Decider behind the CommandHandler, and the node mirror, on a real nats-server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bus.aggregates import AggregateStore
from bus.control.deciders import all_deciders
from bus.control.mirror import NodeMirror
from bus.eventstore import JetStreamApplicationRecorder
from bus.eventstore.config import StoreConfig
from bus.handler import CommandHandler
from bus.read import load_aggregate
from domains.scheduling.job_decide import timed_out
from schemas import Command, Envelope, decode
from schemas import fleet as f
from schemas import jobs as j
from schemas import workflows as w
from schemas.metering import PublishRateCard
from schemas.policy import GpuLimit, QuotaLimits, SetQuota
from tests.factories.control import PLATFORM, T0, at, node, spec


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(nats_server):
    recorder = JetStreamApplicationRecorder.connect(nats_server.url, StoreConfig())
    yield AggregateStore(recorder)
    recorder.close()


@pytest.fixture
def handler(store, clock):
    return CommandHandler(store, all_deciders(), clock=clock)


def command(cmd, tenant: str = "acme", *, id: str) -> Envelope:
    return Envelope.for_command(cmd, tenant=tenant, actor="alice", source="/tests", time=T0, id=id)


async def types(nc, tenant, aggregate, aggregate_id) -> list[str]:
    return [type(decode(m.data).data).__name__ for m in await load_aggregate(nc, tenant, aggregate, aggregate_id)]


async def test_a_job_goes_through_its_lifecycle_and_remembers_since_when_it_runs(nc, handler, store, clock):
    for n, cmd in enumerate([j.SubmitJob(job_id="j1", spec=spec(2, timeout_s=60)), j.AdmitJob(job_id="j1"),
                             j.PlaceJob(job_id="j1", placements=[j.Placement(cluster="c1", node="n1",
                                                                             gpu_indices=[0, 1])]),
                             j.ReportJobStarting(job_id="j1")]):
        await handler.handle(command(cmd, id=f"c{n}"))
    clock.now = at(10)
    await handler.handle(command(j.ReportJobRunning(job_id="j1"), id="running"))

    state = next(d for d in all_deciders() if d.aggregate == "job").fold((await store.load("acme", "job", "j1")).events)
    assert state.status == "running" and state.running_since == at(10)
    assert not timed_out(state, at(69)) and timed_out(state, at(70))
    assert await types(nc, "acme", "job", "j1") == ["JobSubmitted", "JobAdmitted", "JobQueued", "JobPlaced",
                                                   "JobStarting", "JobRunning"]


async def test_workflow_quota_and_rate_card_commands_reach_their_aggregates(nc, handler):
    task = w.TaskSpec(name="a", image="img:1")
    await handler.handle(command(w.SubmitWorkflow(workflow_id="wf1", spec=w.WorkflowSpec(name="wf", tasks=[task])),
                                 id="wf"))
    limits = QuotaLimits(concurrent_gpus=[GpuLimit(max_gpus=8)])
    await handler.handle(command(SetQuota(tenant="acme", limits=limits), id="quota"))
    assert await handler.handle(command(SetQuota(tenant="acme", limits=limits), id="quota-again")) == []
    await handler.handle(command(PublishRateCard(version=1, effective_from=T0, gpu_hour={"H100": Decimal("2.50")}),
                                 PLATFORM, id="card"))

    assert await types(nc, "acme", "workflow", "wf1") == ["WorkflowSubmitted", "TaskReady"]
    assert await types(nc, "acme", "quota", "acme") == ["QuotaSet"]
    assert await types(nc, PLATFORM, "ratecard", "default") == ["RateCardPublished"]


async def test_onboarding_decides_on_the_cluster_and_the_mirror_starts_each_node_once(nc, handler, store):
    cluster = f.ClusterSpec(name="c1", nodes=[node("n1"), node("n2")])
    decided = await handler.handle(command(f.OnboardCluster(spec=cluster), PLATFORM, id="onboard"))
    mirror = NodeMirror(store)

    for event in decided + decided:  # the second round is a redelivery: nothing new
        await mirror.effect(event)

    assert await types(nc, PLATFORM, "cluster", "c1") == ["ClusterOnboarded", "NodeRegistered", "NodeRegistered"]
    assert mirror.appended == 2
    copies = [decode(m.data) for m in await load_aggregate(nc, PLATFORM, "node", "c1--n1")]
    assert [(c.version, c.causationid) for c in copies] == [(1, decided[1].id)]
    await handler.handle(command(f.CordonNode(cluster="c1", node="n1", reason="maintenance"), PLATFORM, id="cordon"))
    assert await types(nc, PLATFORM, "node", "c1--n1") == ["NodeRegistered", "NodeCordoned"]


async def test_a_command_for_a_node_not_yet_mirrored_is_not_found(nc, handler):
    from domains.errors import NotFound

    with pytest.raises(NotFound):
        await handler.handle(command(f.MarkNodeLost(cluster="c9", node="n1"), PLATFORM, id="lost"))


def test_every_command_of_the_domains_has_exactly_one_decider():
    """Every command of the catalog but the executors' (compute: LaunchJob/StopJob go to a backend)."""
    import schemas.catalog as catalog

    handled = [c for d in all_deciders() for c in d.commands]
    commands = {obj for name in dir(catalog) if not name.startswith("_") and name != "compute"
                for obj in vars(getattr(catalog, name)).values()
                if isinstance(obj, type) and issubclass(obj, Command) and obj is not Command
                and obj.__module__ == getattr(catalog, name).__name__}
    assert len(handled) == len(set(handled)) and set(handled) == commands
