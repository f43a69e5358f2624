"""The workflows read model end to end on a real nats-server: decided histories published, projected, rebuilt.

Workflow histories are decided by the real `workflow` aggregate (random exit
codes, retries, non-retryable failures, cancels) and published to EVT next
to a job and fleet history; the registry follows them through the
ProjectionRunner. Expected task states come from folding the aggregate itself.
"""

from __future__ import annotations

import random

from bus.publish import Publisher
from domains.scheduling import workflow as wf
from projections.registry import Registry
from projections.runner import ProjectionRunner
from schemas import workflows as w
from tests.factories.projections import History, at, out_msgs, realistic_history


def task(name: str, *depends: str, **more) -> w.TaskSpec:
    return w.TaskSpec(name=name, image="img:1", depends_on=list(depends), **more)


SPEC = w.WorkflowSpec(name="pipeline", timeout_s=3600, tasks=[
    task("fetch", outputs=["raw"], retries=1, exit_actions={"75": "reschedule"}),
    task("clean", inputs=[w.InputRef(task="fetch", output="raw")]),
    task("train", "clean", retries=2, exit_actions={"75": "reschedule"}),
    task("report", "train"), task("lint"),
])


def add_workflows(h: History, count: int, seed: int = 3) -> dict[tuple[str, str], wf.WorkflowState]:
    """Each workflow decided command by command: tasks run and exit 0, 1 or 75 (retry); some are cancelled."""
    rng, states = random.Random(seed), {}
    for i in range(count):
        id, tenant = f"wf{i:03}", ("acme", "globex")[i % 2]
        state = decided(h, tenant, wf.WorkflowState(), w.SubmitWorkflow(workflow_id=id, spec=SPEC), h.tick(5).clock)
        while not state.is_terminal:
            if rng.random() < 0.03:
                state = decided(h, tenant, state, w.CancelWorkflow(workflow_id=id, reason="by user"), h.clock)
                break
            name = rng.choice(sorted(n for n, t in state.tasks.items() if t.status in ("ready", "running")))
            t = state.tasks[name]
            if t.status == "ready":
                cmd: w.Command = w.RecordTaskStarted(workflow_id=id, task=name, attempt=t.attempt)
            else:
                code = rng.choice((0, 0, 0, 0, 1, 75, 75))
                cmd = w.RecordTaskExited(workflow_id=id, task=name, exit_code=code, attempt=t.attempt)
            state = decided(h, tenant, state, cmd, h.tick(1).clock)
        states[(tenant, id)] = state
    return states


def decided(h: History, tenant: str, state: wf.WorkflowState, cmd: w.Command, seconds: float) -> wf.WorkflowState:
    """The aggregate decides `cmd`; its events go to the history and into the returned state."""
    for event in wf.decide(state, cmd, now=at(seconds)):
        h.add(event, tenant=tenant, aggregate="workflow", aggregate_id=cmd.workflow_id)  # type: ignore[attr-defined]
        state = wf.evolve(state, event)
    return state


async def test_workflows_are_projected_like_the_aggregate_decided_them_and_rebuild_identically(nc):
    h = realistic_history(jobs=30)
    expected = add_workflows(h, 40)
    await Publisher(nc).publish_many(out_msgs(h.events))

    registry = Registry()
    runner = ProjectionRunner(nc, registry, batch_size=50)
    assert await runner.catch_up() == len(h.events)

    for (tenant, id), state in expected.items():
        view = registry.workflows.get(id, tenant=tenant)
        assert view.status == state.status
        assert {t.name: (t.status, t.attempt, t.job_id, t.exit_code) for t in view.tasks} == {
            name: (t.status, t.attempt, t.job_id, t.exit_code) for name, t in state.tasks.items()}
    statuses = {s.status for s in expected.values()}
    assert {"succeeded", "failed"} <= statuses  # the history covers both ends
    acme = registry.workflows.list(tenant="acme", page_size=500).items
    assert sorted(v.id for v in acme) == sorted(id for tenant, id in expected if tenant == "acme")

    live = registry.state_hash()
    for _ in range(2):  # T7: rebuild from sequence 1, twice
        assert await runner.rebuild() == len(h.events)
        assert registry.state_hash() == live
