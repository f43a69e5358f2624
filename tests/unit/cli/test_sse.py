"""Server-Sent Events as the CLI reads /watch and /logs?follow=true."""

from __future__ import annotations

from gateway.client import SseEvent, parse_sse
from gateway.commands.progress import event_name, transition


def lines(text: str) -> list[str]:
    return text.split("\n")


def test_events_are_dispatched_at_blank_lines_with_their_type_and_data():
    events = list(parse_sse(lines('event: job_placed\ndata: {"job_id": "j1"}\n\nevent: job_running\ndata: {}\n\n')))
    assert events == [SseEvent("job_placed", '{"job_id": "j1"}'), SseEvent("job_running", "{}")]
    assert events[0].json() == {"job_id": "j1"}


def test_multi_line_data_is_joined_and_comments_and_keepalives_are_ignored():
    events = list(parse_sse(lines(": keep-alive\n\ndata: first\ndata: second\nid: 7\n\n")))
    assert events == [SseEvent("message", "first\nsecond", "7")]


def test_a_space_after_the_colon_is_optional_and_crlf_endings_are_accepted():
    events = list(parse_sse(["event:x\r\n", "data:1\r\n", "\r\n"]))
    assert events == [SseEvent("x", "1")]


def test_a_last_event_without_a_trailing_blank_line_is_not_lost():
    assert list(parse_sse(["data: tail"])) == [SseEvent("message", "tail")]


def test_a_block_without_data_is_not_an_event():
    assert list(parse_sse(lines("event: ping\n\n"))) == []


def test_the_event_type_is_the_envelope_type_else_the_frame_name():
    envelope = SseEvent("event", '{"seq": 4, "type": "tessera.scheduling.job_failed.v1", "data": {"exit_code": 3}}')
    by_name = SseEvent("tessera.scheduling.job_placed.v1", '{"data": {"job_id": "j1"}}')
    assert event_name(envelope) == ("job_failed", {"exit_code": 3})
    assert event_name(by_name) == ("job_placed", {"job_id": "j1"})


def test_job_events_move_the_state_and_say_where_and_why():
    placed = transition("job", "job_placed", {"placements": [{"cluster": "c", "node": "n1"}]})
    waiting = transition("job", "job_unschedulable", {"reason": {"code": "insufficient_gpus", "details": {}}})
    assert placed == ("placed", "placed c/n1")
    assert waiting == ("unschedulable", "unschedulable insufficient_gpus")


def test_task_events_of_a_workflow_are_described_without_changing_its_state():
    assert transition("workflow", "task_succeeded", {"task": "prepare", "exit_code": 0}) == \
        (None, "task prepare: succeeded (exit 0)")
    assert transition("workflow", "workflow_succeeded", {})[0] == "succeeded"
