"""D3 for workflows: random DAGs, random task outcomes, invariants checked after every decision.

An observer, written independently of `state.py`, replays every decided
event and checks: no task becomes ready or starts before everything it waits
for succeeded (its dependencies, its inputs' tasks and, in a barrier group,
the group's outside dependencies); a blocked task is never made ready; no
task runs more than `retries + 1` times; no task ends twice; nothing follows
the workflow's end. At teardown the remaining tasks are driven to an end and
every task must be in exactly one terminal state.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from domains.scheduling.workflow import decide, evolve, fold, validate_workflow_spec
from schemas import workflows as w
from tests.factories.workflows import (
    T0,
    exit_,
    group,
    start,
    submit,
    takes,
    task,
    workflow,
)

ACTIONS = [{}, {"1": "reschedule"}, {"1-2": "reschedule", "*": "fail"}, {"1-3": "reschedule"},
           {"0": "complete", "3": "fail", "*": "reschedule"}]
TERMINAL_EVENTS = (w.WorkflowSucceeded, w.WorkflowFailed, w.WorkflowCancelled, w.WorkflowTimedOut)


@st.composite
def dags(draw) -> w.WorkflowSpec:
    n = draw(st.integers(1, 8))
    tasks = []
    for i in range(n):
        upstream = sorted(draw(st.sets(st.integers(0, i - 1), max_size=3))) if i else []
        via_input = draw(st.lists(st.booleans(), min_size=len(upstream), max_size=len(upstream)))
        tasks.append(task(
            f"t{i}", *(f"t{j}" for j, inp in zip(upstream, via_input) if not inp),
            inputs=[takes(f"t{j}", "out") for j, inp in zip(upstream, via_input) if inp],
            outputs=["out"], retries=draw(st.integers(0, 3)), exit_actions=draw(st.sampled_from(ACTIONS))))
    timeout_s = draw(st.none() | st.integers(60, 600))
    members = draw(st.sets(st.integers(0, n - 1), min_size=2, max_size=3)) if n >= 2 else set()
    if members:
        barrier = draw(st.booleans())
        names = {f"t{i}" for i in members} if barrier else set()  # barrier members may not wait on each other
        grouped = [t.model_copy(update={
            "group": "g", "depends_on": [d for d in t.depends_on if d not in names],
            "inputs": [r for r in t.inputs if r.task not in names]}) if i in members else t
            for i, t in enumerate(tasks)]
        spec = workflow(*grouped, groups=(group("g", f"t{min(members)}", barrier),), timeout_s=timeout_s)
        if not validate_workflow_spec(spec):  # a cycle through the barrier: drop the group
            return spec
    return workflow(*tasks, timeout_s=timeout_s)


def waits_for(spec: w.WorkflowSpec) -> dict[str, set[str]]:
    """What each task waits for, computed from the spec independently of the domain code."""
    own = {t.name: set(t.depends_on) | {r.task for r in t.inputs} for t in spec.tasks}
    barrier = {g.name for g in spec.groups if g.barrier}
    result = {}
    for t in spec.tasks:
        if t.group in barrier:
            members = {m.name for m in spec.tasks if m.group == t.group}
            result[t.name] = set().union(*(own[m] for m in members)) - members
        else:
            result[t.name] = own[t.name]
    return result


class WorkflowMachine(RuleBasedStateMachine):
    @initialize(spec=dags())
    def submit(self, spec):
        self.spec, self.now, self.ended = spec, T0, False
        self.waits = waits_for(spec)
        self.retries = {t.name: t.retries for t in spec.tasks}
        self.status = dict.fromkeys(self.waits, "pending")
        self.runs = dict.fromkeys(self.waits, 0)
        self.state = fold([])
        self.apply(submit(spec))

    def apply(self, command):
        events = decide(self.state, command, now=self.now)
        for event in events:
            self.observe(event)
            self.state = evolve(self.state, event)

    def observe(self, event) -> None:
        assert not self.ended, f"{type(event).__name__} after the workflow ended"
        name = getattr(event, "task", None)
        if isinstance(event, (w.TaskReady, w.TaskStarted)):
            assert all(self.status[d] == "succeeded" for d in self.waits[name]), f"{name} ran early"
            assert self.status[name] in (("pending", "retrying") if isinstance(event, w.TaskReady) else ("ready",))
        if isinstance(event, w.TaskReady):
            self.runs[name] += 1
            assert event.attempt == self.runs[name] <= self.retries[name] + 1
        if isinstance(event, w.TaskRetried):
            assert self.runs[name] <= self.retries[name] and event.attempt == self.runs[name] + 1
        if isinstance(event, w.TaskFailed) and event.retryable:
            assert self.runs[name] == self.retries[name] + 1, "failed with retries left"
        if isinstance(event, w.TaskBlocked):
            assert self.status[name] == "pending" and self.runs[name] == 0
        if isinstance(event, (w.TaskSucceeded, w.TaskFailed, w.TaskBlocked)):
            assert self.status[name] not in ("succeeded", "failed", "blocked", "cancelled")
        if isinstance(event, (w.WorkflowCancelled, w.WorkflowTimedOut)):
            active = {n for n, s in self.status.items() if s in ("ready", "running")}
            assert len(event.stop_jobs) == len(active)
            self.status.update({n: "cancelled" for n, s in self.status.items()
                                if s not in ("succeeded", "failed", "blocked")})
        if isinstance(event, w.WorkflowSucceeded):
            assert set(self.status.values()) == {"succeeded"}
        if isinstance(event, w.WorkflowFailed):
            assert "failed" in self.status.values()
            assert set(self.status.values()) <= {"succeeded", "failed", "blocked"}
        self.ended = isinstance(event, TERMINAL_EVENTS)
        new = {w.TaskReady: "ready", w.TaskStarted: "running", w.TaskSucceeded: "succeeded",
               w.TaskFailed: "failed", w.TaskBlocked: "blocked", w.TaskRetried: "retrying"}.get(type(event))
        if new:
            self.status[name] = new

    def tasks_in(self, *statuses):
        return [n for n, s in self.status.items() if s in statuses]

    @precondition(lambda self: not self.ended and self.tasks_in("ready"))
    @rule(data=st.data())
    def start_a_ready_task(self, data):
        self.apply(start(data.draw(st.sampled_from(self.tasks_in("ready")))))

    @precondition(lambda self: not self.ended and self.tasks_in("ready", "running"))
    @rule(data=st.data(), code=st.sampled_from([0, 0, 1, 2, 3]))
    def a_task_exits(self, data, code):
        self.apply(exit_(data.draw(st.sampled_from(self.tasks_in("ready", "running"))), code))

    @precondition(lambda self: any(self.runs[n] > 1 for n in self.runs))
    @rule(data=st.data())
    def a_stale_exit_is_redelivered(self, data):
        name = data.draw(st.sampled_from([n for n in self.runs if self.runs[n] > 1]))
        assert decide(self.state, exit_(name, 0, attempt=self.runs[name] - 1), now=self.now) == []

    @rule(seconds=st.integers(0, 200))
    def time_passes(self, seconds):  # after the end, checking the timeout changes nothing
        self.now += timedelta(seconds=seconds)
        self.apply(w.CheckWorkflowTimeout(workflow_id=self.state.workflow_id))

    @precondition(lambda self: not self.ended)
    @rule(really=st.integers(0, 9))
    def cancel_sometimes(self, really):
        if really == 0:
            self.apply(w.CancelWorkflow(workflow_id=self.state.workflow_id))

    @invariant()
    def the_domain_state_agrees_with_the_observer(self):
        for name, seen in self.status.items():
            expected = "running" if seen == "retrying" else seen  # TaskReady follows in the same batch
            assert self.state.tasks[name].status == expected
        assert self.state.is_terminal == self.ended

    def teardown(self):
        if not hasattr(self, "spec"):
            return
        budget = sum(2 * (r + 1) for r in self.retries.values()) + 1
        while not self.ended:
            budget -= 1
            assert budget > 0, "the workflow did not terminate"
            active = self.tasks_in("ready", "running")
            assert active, f"stuck: nothing can run but the workflow has not ended: {self.status}"
            name = active[0]
            if self.status[name] == "ready":
                self.apply(start(name))
            else:
                self.apply(exit_(name, 0))
        terminal = {"succeeded", "failed", "blocked", "cancelled"}
        assert all(s in terminal for s in self.status.values())
        assert {n: t.status for n, t in self.state.tasks.items()} == self.status


TestWorkflowMachine = WorkflowMachine.TestCase
TestWorkflowMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                        suppress_health_check=[HealthCheck.too_slow])
