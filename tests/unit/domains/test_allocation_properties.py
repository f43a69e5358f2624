"""Properties over random histories: no GPU given twice, allocated <= capacity, replay rebuilds the same fleet.

A Hypothesis state machine interleaves node registration, cordons, node
losses and recoveries, queued jobs (gangs, priorities, tenants), placement
passes whose decisions are folded back as events, job endings, requeues,
preemptions and hostile placements naming random GPUs. After every step the
fleet's invariants are checked; at the end the recorded history is replayed
into a fresh fleet and must give the same state.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from domains.allocation import (
    Fleet,
    GpuConflict,
    Placed,
    Preempt,
    UnknownNode,
    place,
    placed_event,
)
from schemas.fleet import NodeUncordoned
from schemas.jobs import JobFailed, JobPreempted
from schemas.values import WaitReason
from tests.factories.allocation import (
    T0,
    fold,
    job_cancelled,
    job_placed,
    job_queued,
    job_requeued,
    job_succeeded,
    node_cordoned,
    node_healthy,
    node_lost,
    node_registered,
)

NODES = [f"n{i}" for i in range(5)]
MODELS = ["H100", "A100"]


class AllocationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fleet = Fleet()
        self.history: list[tuple] = []
        self.next_job = 0

    def record(self, event, tenant: str = "default") -> None:
        self.fleet.apply(event, tenant=tenant)
        self.history.append((event, tenant))

    @rule(i=st.integers(0, len(NODES) - 1), gpus=st.integers(0, 8), model=st.sampled_from(MODELS),
          rack=st.sampled_from(["r1", "r2", None]), nvlink=st.booleans())
    def register(self, i, gpus, model, rack, nvlink):
        if f"c1--{NODES[i]}" not in self.fleet.nodes:
            self.record(node_registered(NODES[i], gpus, model, rack=rack, nvlink="auto" if nvlink else None))

    @rule(i=st.integers(0, len(NODES) - 1), change=st.sampled_from(["cordon", "uncordon", "lost", "healthy"]))
    def node_changes(self, i, change):
        name = NODES[i]
        event = {"cordon": node_cordoned(name), "uncordon": NodeUncordoned(cluster="c1", node=name),
                 "lost": node_lost(name), "healthy": node_healthy(name)}[change]
        self.record(event)

    @rule(gpus=st.integers(0, 6), gang=st.integers(1, 3), priority=st.sampled_from([10, 100, 500]),
          preemptible=st.booleans(), tenant=st.sampled_from(["a", "b"]), model=st.sampled_from([None, *MODELS]),
          same_rack=st.booleans())
    def queue(self, gpus, gang, priority, preemptible, tenant, model, same_rack):
        self.next_job += 1
        self.record(job_queued(f"j{self.next_job}", gpus, gang=gang, priority=priority, preemptible=preemptible,
                               gpu_model=model if gpus else None, same_rack=same_rack), tenant)

    @rule(policy=st.sampled_from(["binpack", "spread"]))
    def run_pass(self, policy):
        queue = self.fleet.queue()
        decisions = place(self.fleet, queue, policy=policy, now=T0)
        assert sorted(d.job_id for d in decisions) == sorted(q.job_id for q in queue)
        victims: list[str] = []
        for d in decisions:
            if isinstance(d, Placed):
                for a in d.placements:
                    assert self.fleet.nodes[f"{a.cluster}--{a.node}"].schedulable
                self.record(placed_event(d))  # raises GpuConflict if a pass gave a GPU twice
            elif isinstance(d, Preempt):
                assert all(self.fleet.running[v].priority < self.fleet.queued[d.job_id].spec.priority for v in d.victims)
                assert not set(d.victims) & set(victims)
                victims.extend(d.victims)
        for v in victims:
            self.record(JobPreempted(job_id=v, by_job="x", reason=WaitReason(code="preempted")))

    @precondition(lambda self: self.fleet.running)
    @rule(pick=st.integers(0, 10_000), how=st.sampled_from(["succeeded", "failed", "cancelled", "requeued"]))
    def end_job(self, pick, how):
        job_id = sorted(self.fleet.running)[pick % len(self.fleet.running)]
        event = {"succeeded": job_succeeded(job_id), "failed": JobFailed(job_id=job_id),
                 "cancelled": job_cancelled(job_id), "requeued": job_requeued(job_id)}[how]
        self.record(event)

    @precondition(lambda self: self.fleet.queued)
    @rule(pick=st.integers(0, 10_000), node=st.sampled_from(NODES), indices=st.lists(st.integers(0, 9), max_size=4))
    def hostile_placement(self, pick, node, indices):
        job_id = sorted(self.fleet.queued)[pick % len(self.fleet.queued)]
        before = self.fleet.snapshot()
        event = job_placed(job_id, (node, indices))
        try:
            self.fleet.apply(event)
        except (GpuConflict, UnknownNode):
            assert self.fleet.snapshot() == before
        else:
            self.history.append((event, "default"))

    @invariant()
    def no_gpu_is_given_twice_and_allocated_never_exceeds_capacity(self):
        for node in self.fleet.nodes.values():
            held = [i for indices in node.allocs.values() for i in indices]
            assert len(held) == len(set(held)), node.allocs
            assert not set(held) & set(node.free)
            assert sorted(held + node.free) == list(range(node.spec.gpu_count))
            assert len(held) <= node.spec.gpu_count
        for job in self.fleet.running.values():
            for key, indices in job.placements:
                if key in self.fleet.nodes:
                    assert set(indices) <= set(self.fleet.nodes[key].allocs[job.job_id])

    def teardown(self):
        assert fold(*self.history).snapshot() == self.fleet.snapshot()


AllocationMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                               suppress_health_check=[HealthCheck.too_slow])
test_allocation_invariants_hold_over_random_histories = AllocationMachine.TestCase
