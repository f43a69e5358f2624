"""How gateway answers become the CLI's errors (and its one-line messages)."""

from __future__ import annotations

import socket

import httpx
import pytest

from gateway.client import Client, ClientError, GatewayUnreachable, error_from_response


def response(status, body=None, text=None, headers=None):
    if body is not None:
        return httpx.Response(status, json=body, headers=headers)
    return httpx.Response(status, text=text or "", headers=headers)


def test_the_api_error_body_gives_status_code_message_and_field():
    err = error_from_response(response(422, {"error": {"code": "invalid", "message": "must be >= 0",
                                                       "field": "spec.gpus"}}))
    assert (err.status, err.code, err.field) == (422, "invalid", "spec.gpus")
    assert str(err) == "must be >= 0 (field: spec.gpus)"


def test_an_error_without_a_field_is_just_its_message():
    err = error_from_response(response(404, {"error": {"code": "not_found", "message": "no job j1", "field": None}}))
    assert str(err) == "no job j1"


def test_every_listed_spec_problem_is_kept():
    problems = [{"path": "nodes[0].gpu_count", "message": "negative", "line": 4},
                {"path": "pools[1].name", "message": "invalid name", "line": 9}]
    err = error_from_response(response(422, {"error": {"code": "invalid", "message": "2 problems", "field": None,
                                                       "problems": problems}}))
    assert err.problems == problems


def test_a_non_json_error_still_names_the_http_status():
    err = error_from_response(response(502, text="<html>bad gateway</html>"))
    assert (err.status, str(err)) == (502, "HTTP 502 Bad Gateway")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_is_a_one_line_hint_to_start_the_platform():
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url, "t") as client, pytest.raises(GatewayUnreachable) as exc:
        client.get("/v1/whoami")
    assert str(exc.value) == f"no gateway at {url}: start it with `tessera up`"


def test_rate_limited_requests_are_retried_after_retry_after_then_succeed():
    answers = iter([response(429, {"error": {"code": "rate_limited", "message": "slow down", "field": None}},
                             headers={"Retry-After": "0"}),
                    response(200, {"ok": True})])
    transport = httpx.MockTransport(lambda request: next(answers))
    with Client("http://gw", "t", transport=transport) as client:
        assert client.get("/v1/jobs") == {"ok": True}


def test_rate_limiting_that_persists_is_reported():
    limited = response(429, {"error": {"code": "rate_limited", "message": "slow down", "field": None}},
                       headers={"Retry-After": "0"})
    transport = httpx.MockTransport(lambda request: limited)
    with Client("http://gw", "t", transport=transport) as client, pytest.raises(ClientError) as exc:
        client.get("/v1/jobs")
    assert exc.value.code == "rate_limited"


def test_pages_follow_next_cursor_until_it_is_null():
    seen = []

    def answer(request):
        cursor = request.url.params.get("cursor")
        seen.append((cursor, request.url.params.get("page_size")))
        nxt = {None: "c1", "c1": "c2", "c2": None}[cursor]
        return httpx.Response(200, json={"items": [{"at": cursor}], "next_cursor": nxt})

    with Client("http://gw", "t", transport=httpx.MockTransport(answer)) as client:
        items = list(client.pages("/v1/jobs", page_size=2, status="queued"))
    assert [i["at"] for i in items] == [None, "c1", "c2"]
    assert seen == [(None, "2"), ("c1", "2"), ("c2", "2")]


def test_several_problems_are_one_headline_and_one_line_each():
    from gateway.commands.common import error_lines

    err = ClientError(422, "invalid", "nodes[0].gpu_count: negative (and 1 more)", "nodes[0].gpu_count",
                      [{"path": "nodes[0].gpu_count", "message": "negative", "line": 4},
                       {"path": "pools[1].name", "message": "invalid name", "line": None}])
    assert error_lines(err) == ("2 problems", ["nodes[0].gpu_count: negative (line 4)", "pools[1].name: invalid name"])


def test_a_single_problem_stays_one_line_with_its_field_and_line():
    from gateway.commands.common import error_lines

    err = ClientError(422, "invalid", "must be >= 0", "spec.gpus", [{"path": "spec.gpus", "message": "must be >= 0",
                                                                    "line": 3}])
    assert error_lines(err) == ("must be >= 0 (field: spec.gpus) (line 3)", [])


def test_an_unreadable_spec_file_is_one_line_and_exit_1(tmp_path):
    from typer.testing import CliRunner

    from gateway.cli import app

    env = {"TESSERA_HOME": str(tmp_path), "TESSERA_URL": "http://127.0.0.1:9", "TESSERA_TOKEN": "t"}
    result = CliRunner().invoke(app, ["jobs", "submit", str(tmp_path / "missing.yaml")], env=env)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: cannot read {tmp_path / 'missing.yaml'}: No such file or directory"]
