"""D3: random commands against the job aggregate, checked against an independent reference model.

The model is a transition table (status -> command kind -> next status) plus
the few data-dependent rules written out plainly. After every step the
aggregate's state must equal the model's; a refused command must leave the
state untouched; every job ends in at most one terminal status and never
leaves it; a redelivered command id is never applied twice (T9).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domains.scheduling import errors
from domains.scheduling.job_decide import decide
from domains.scheduling.job_state import JobState, already_applied, evolve_envelope
from schemas import jobs as j
from schemas.envelope import Envelope
from tests.factories.jobs import T0, placement, reason, spec

JOBS = ("j0", "j1")
ENDS = {"rejected", "succeeded", "failed", "cancelled", "preempted"}
ENDING_EVENTS = (j.JobRejected, j.JobSucceeded, j.JobFailed, j.JobCancelled, j.JobPreempted)
ON_NODE = {"cancel": "cancelled", "preempt": "preempted", "node_lost": "node_lost"}
TABLE: dict[str, dict[str, str]] = {
    "submitted": {"admit": "queued", "reject": "rejected", "cancel": "cancelled"},
    "queued": {"place": "placed", "unschedulable": "queued", "cancel": "cancelled"},
    "placed": {"starting": "starting", "running": "running", **ON_NODE},
    "starting": {"running": "running", "exit": "exit", **ON_NODE},
    "running": {"exit": "exit", **ON_NODE},
}
EVENTS = {"admit": [j.JobAdmitted, j.JobQueued], "reject": [j.JobRejected], "place": [j.JobPlaced],
          "starting": [j.JobStarting], "running": [j.JobRunning], "cancel": [j.JobCancelled],
          "preempt": [j.JobPreempted], "unschedulable": [j.JobUnschedulable]}

SPEC_FIELDS = st.fixed_dictionaries({
    "gpus": st.integers(0, 2), "gang": st.integers(1, 2), "max_retries": st.integers(0, 2),
    "preemptible": st.booleans(), "on_node_lost": st.sampled_from(["reschedule", "fail"]),
})
NEXT = {"submitted": "admit", "queued": "place", "placed": "report_starting",
        "starting": "report_running"}


def expect(model: dict[str, Any], kind: str, arg: Any) -> tuple[dict[str, Any], list[type]] | type:
    """The reference: (next model, event types) or the DomainError class expected."""
    status, job_spec = model["status"], model["spec"]
    if kind == "submit":
        if status == "none":
            return {**model, "status": "submitted", "spec": arg, "attempt": 1}, [j.JobSubmitted]
        return (model, []) if arg == job_spec else errors.JobExists
    if status == "none":
        return errors.JobNotFound
    target = TABLE.get(status, {}).get(kind)
    if target is None:
        return errors.JobIllegalTransition
    requeued = {**model, "status": "queued", "attempt": model["attempt"] + 1, "nodes": (), "wait": None}
    if kind == "place":
        if not arg:
            return errors.InvalidPlacement
        nodes = tuple(f"n{m}" for m in range(job_spec.gang))
        return {**model, "status": "placed", "nodes": nodes, "wait": None}, EVENTS[kind]
    if kind == "unschedulable":
        return (model, []) if arg == model["wait"] else ({**model, "wait": arg}, EVENTS[kind])
    if kind == "preempt" and not job_spec.preemptible:
        return errors.NotPreemptible
    if kind == "exit":
        if arg == 0:
            return {**model, "status": "succeeded"}, [j.JobSucceeded]
        if model["retries"] < job_spec.max_retries:
            return {**requeued, "retries": model["retries"] + 1}, [j.JobRequeued]
        return {**model, "status": "failed"}, [j.JobFailed]
    if kind == "node_lost":
        if arg not in model["nodes"]:
            return model, []
        if job_spec.on_node_lost == "reschedule":
            return requeued, [j.JobRequeued]
        return {**model, "status": "failed"}, [j.JobFailed]
    return {**model, "status": target}, EVENTS[kind]


def observed(state: JobState) -> dict[str, Any]:
    return {"status": state.status, "spec": state.spec, "attempt": state.attempt,
            "retries": state.retries, "wait": state.wait_reason and state.wait_reason.code,
            "nodes": tuple(p.node for p in state.placements)}


class JobLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.states = {job: JobState() for job in JOBS}
        self.models = {job: observed(JobState()) for job in JOBS}
        self.versions = Counter[str]()
        self.terminal_events = Counter[str]()
        self.applied: list[tuple[str, str, j.Command]] = []  # (job, command id, command)
        self.ended: dict[str, str] = {}  # job -> the terminal status it reached first
        self.steps = 0

    def handle(self, job: str, command: j.Command, command_id: str) -> list[j.Event]:
        """What the bus handler does: skip a known command id, decide, store, evolve."""
        state = self.states[job]
        if already_applied(state, command_id):
            return []
        events = decide(state, command, now=T0)
        cause = Envelope.for_command(command, tenant="acme", actor="t", source="/test",
                                     time=T0, id=command_id)
        for index, event in enumerate(events):
            self.versions[job] += 1
            state = evolve_envelope(state, Envelope.for_event(
                event, cause=cause, index=index, aggregate="job", aggregateid=job,
                version=self.versions[job], time=T0))
        self.states[job] = state
        return events

    def run(self, job: str, kind: str, command: j.Command, arg: Any = None) -> None:
        expected = expect(self.models[job], kind, arg)
        before = self.states[job]
        self.steps += 1
        command_id = f"cmd-{self.steps}"
        if isinstance(expected, type):
            with pytest.raises(expected):
                self.handle(job, command, command_id)
            assert self.states[job] == before
            return
        model, event_types = expected
        events = self.handle(job, command, command_id)
        assert [type(e) for e in events] == event_types
        self.terminal_events[job] += sum(isinstance(e, ENDING_EVENTS) for e in events)
        self.models[job] = model
        if events:
            self.applied.append((job, command_id, command))

    @rule(job=st.sampled_from(JOBS), steps=st.integers(1, 6), data=st.data())
    def advance(self, job: str, steps: int, data: st.DataObject) -> None:
        """Up to `steps` moves along the main path, so runs often reach the deep states."""
        for _ in range(steps):
            status = self.models[job]["status"]
            if status == "none":
                self.submit(job, data.draw(SPEC_FIELDS))
            elif status in NEXT:
                getattr(self, NEXT[status])(job)
            elif status == "running":
                self.report_exited(job, data.draw(st.sampled_from([0, 1])))
            else:
                return
            self.state_matches_the_reference_model()

    @rule(job=st.sampled_from(JOBS), fields=SPEC_FIELDS)
    def submit(self, job: str, fields: dict[str, Any]) -> None:
        job_spec = spec(**fields)
        self.run(job, "submit", j.SubmitJob(job_id=job, spec=job_spec), job_spec)

    @rule(job=st.sampled_from(JOBS))
    def admit(self, job: str) -> None:
        self.run(job, "admit", j.AdmitJob(job_id=job))

    @rule(job=st.sampled_from(JOBS))
    def reject(self, job: str) -> None:
        self.run(job, "reject", j.RejectJob(job_id=job, reason=reason("quota_exceeded")))

    @rule(job=st.sampled_from(JOBS), valid=st.booleans())
    def place(self, job: str, valid: bool = True) -> None:
        job_spec = self.models[job]["spec"] or spec()
        members = job_spec.gang if valid else job_spec.gang + 1
        placements = [placement(f"n{m}", tuple(range(job_spec.gpus))) for m in range(members)]
        self.run(job, "place", j.PlaceJob(job_id=job, placements=placements), valid)

    @rule(job=st.sampled_from(JOBS), code=st.sampled_from(["insufficient_gpus", "quota_exceeded"]))
    def mark_unschedulable(self, job: str, code: str) -> None:
        self.run(job, "unschedulable", j.MarkUnschedulable(job_id=job, reason=reason(code)), code)

    @rule(job=st.sampled_from(JOBS))
    def report_starting(self, job: str) -> None:
        self.run(job, "starting", j.ReportJobStarting(job_id=job))

    @rule(job=st.sampled_from(JOBS))
    def report_running(self, job: str) -> None:
        self.run(job, "running", j.ReportJobRunning(job_id=job))

    @rule(job=st.sampled_from(JOBS), code=st.sampled_from([0, 1, 137]))
    def report_exited(self, job: str, code: int) -> None:
        self.run(job, "exit", j.ReportJobExited(job_id=job, exit_code=code), code)

    @rule(job=st.sampled_from(JOBS))
    def cancel(self, job: str) -> None:
        self.run(job, "cancel", j.CancelJob(job_id=job, reason="user"))

    @rule(job=st.sampled_from(JOBS))
    def preempt(self, job: str) -> None:
        self.run(job, "preempt", j.PreemptJob(job_id=job, by_job="j9", reason=reason("preempted")))

    @rule(job=st.sampled_from(JOBS), node=st.sampled_from(["n0", "n1", "n5"]))
    def node_lost(self, job: str, node: str) -> None:
        self.run(job, "node_lost", j.ReportNodeLost(job_id=job, cluster="c1", node=node), node)

    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        if not self.applied:
            return
        job, command_id, command = data.draw(st.sampled_from(self.applied))
        before = self.states[job]
        assert self.handle(job, command, command_id) == []
        assert self.states[job] == before

    @invariant()
    def state_matches_the_reference_model(self) -> None:
        for job in JOBS:
            assert observed(self.states[job]) == self.models[job]

    @invariant()
    def exactly_one_terminal_event_once_ended_and_never_left(self) -> None:
        for job in JOBS:
            status = self.states[job].status
            if status in ENDS:
                assert self.ended.setdefault(job, status) == status
            assert self.terminal_events[job] == (job in self.ended)


TestJobLifecycle = JobLifecycle.TestCase
TestJobLifecycle.settings = settings(max_examples=200, stateful_step_count=40, deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])

