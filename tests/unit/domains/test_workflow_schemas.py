"""Workflow messages on the wire: registered type names, and decided events survive the codec unchanged."""

from __future__ import annotations

from domains.scheduling.workflow import parse_workflow_spec
from schemas import Envelope, all_types, decode, encode, lookup
from schemas import workflows as w
from tests.factories.workflows import T0, WF, fixture_text, submit, task, when, workflow


def test_every_workflow_message_is_registered_under_a_scheduling_type():
    names = [t for t in all_types() if lookup(t).__module__ == "schemas.workflows"]
    assert len(names) == 16
    assert all(t.startswith("tessera.scheduling.") and t.endswith(".v1") for t in names)
    assert lookup("tessera.scheduling.task_ready.v1") is w.TaskReady


def test_decided_events_round_trip_through_the_codec():
    spec = parse_workflow_spec(fixture_text("group_barrier.yaml"))
    command = Envelope.for_command(submit(spec), tenant="acme", actor="alice", source="/gateway",
                                   time=T0, id="cmd-1")
    events = when([], command.data)
    for index, event in enumerate(events):
        env = Envelope.for_event(event, cause=command, index=index, aggregate="workflow",
                                 aggregateid=WF, version=index + 1, time=T0)
        assert decode(encode(env)).data == event


def test_integer_exit_code_keys_as_yaml_reads_them_become_code_expressions():
    spec = workflow(task("a", exit_actions={0: "complete", 137: "reschedule"}))
    assert spec.tasks[0].exit_actions == {"0": "complete", "137": "reschedule"}
