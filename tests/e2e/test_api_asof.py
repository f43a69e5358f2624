"""Time travel through the API and the CLI, restart from snapshots, `tessera replay` (issue 6 items 4-5, T7).

The real stack (nats-server, control plane, gateway over HTTP). The past is
read with `?as_of=<seq|time>` or `X-Tessera-As-Of`; it answers the state the
live gateway had then, and the past cannot be written.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bus.direct import get_seq
from projections.registry import Registry
from projections.timetravel import build_past
from tests.e2e.conftest import eventually


async def _last_seq(stack) -> int:
    return (await stack.bus.js.stream_info("EVT")).state.last_seq


@pytest.fixture(scope="module")
def before_cordon(api, fleet):
    """(seq, stored time) of the log just before node c1/n0 is cordoned; then it is cordoned."""
    stack = api.stack
    eventually(lambda: stack.primary.runner.position() == stack.call(_last_seq(stack)))
    seq = stack.call(_last_seq(stack))
    stored_at = stack.call(get_seq(stack.bus.nc, "EVT", seq)).time
    r = api.admin.post("/v1/clusters/c1/nodes/n0/cordon", json={"reason": "maintenance"})
    assert r.status_code == 202 and r.json()["status"] == "cordoned", r.text
    return seq, stored_at


def test_as_of_reads_answer_the_past_state(api, before_cordon):
    seq, stored_at = before_cordon
    assert api.admin.get("/v1/nodes/c1/n0").json()["status"] == "cordoned"
    past = api.admin.get("/v1/nodes/c1/n0", params={"as_of": seq})
    assert past.status_code == 200, past.text
    assert past.json()["status"] == "ready" and past.headers["x-tessera-as-of"] == str(seq)
    listed = api.admin.get("/v1/nodes", params={"cluster": "c1", "state": "cordoned", "as_of": seq})
    assert listed.status_code == 200 and listed.json()["items"] == []
    by_header = api.admin.get("/v1/nodes/c1/n0", headers={"X-Tessera-As-Of": str(seq)})
    assert by_header.json()["status"] == "ready"
    by_time = api.admin.get("/v1/nodes/c1/n0", params={"as_of": stored_at})
    assert by_time.json()["status"] == "ready" and int(by_time.headers["x-tessera-as-of"]) >= seq
    assert api.admin.get("/v1/nodes/c1/n0", params={"as_of": 0}).status_code == 404  # before anything existed


def test_the_past_is_read_only_and_bad_as_of_values_name_the_field(api, before_cordon):
    seq, _ = before_cordon
    r = api.admin.post("/v1/clusters/c1/nodes/n1/cordon", params={"as_of": seq}, json={})
    assert r.status_code == 400 and r.json()["error"]["field"] == "as_of"
    assert api.admin.get("/v1/nodes/c1/n1").json()["status"] == "ready"  # nothing was applied
    for bad in ("yesterday", "2025-01-01T00:00:00", str(10**9)):
        r = api.admin.get("/v1/nodes", params={"as_of": bad})
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["field"] == "as_of"
    assert api.stack.client().get("/v1/nodes", params={"as_of": seq}).status_code == 401  # no replay before auth


def test_a_restarted_gateway_starts_from_the_snapshot_with_the_same_state(api, before_cordon):
    stack = api.stack
    primary = stack.primary
    position = stack.call(_save(primary))
    replica = stack.gateway()
    assert replica.restored_from == position > 0
    eventually(lambda: replica.runner.position() >= position)
    assert replica.services.registry.state_hash() == primary.services.registry.state_hash()
    assert replica.services.identity.state_hash() == primary.services.identity.state_hash()
    r = stack.client(stack.admin_token, url=replica.url).get("/v1/nodes/c1/n0")  # the admin token works at once
    assert r.status_code == 200 and r.json()["status"] == "cordoned"


async def _save(runtime) -> int:
    position = runtime.runner.position()
    await runtime.snapshots.save(runtime.runner.projections, covered=position)
    return position


def test_tessera_replay_prints_the_hashes_of_the_past_state_identically_each_time(api, before_cordon, tmp_path):
    from gateway.cli import app

    stack = api.stack
    seq, _ = before_cordon
    env = {"TESSERA_NATS_URL": stack.nats_url, "TESSERA_HOME": str(tmp_path)}
    runs = [CliRunner().invoke(app, ["replay", "--until-seq", str(seq), "--no-clickhouse", "-o", "json"], env=env)
            for _ in range(2)]
    for run in runs:
        assert run.exit_code == 0, run.output
    first, second = (json.loads(run.stdout) for run in runs)
    assert first["seq"] == seq and first["namespace"] == f"asof-{seq}"
    assert first["hashes"] == second["hashes"]
    live_then = Registry()
    stack.call(build_past(stack.bus.nc, [live_then], seq, None))
    assert first["hashes"]["registry"] == [seq, live_then.state_hash()]
    full = CliRunner().invoke(app, ["replay", "--no-clickhouse", "-o", "json"], env=env)
    assert full.exit_code == 0, full.output
    assert json.loads(full.stdout)["hashes"]["registry"][1] == stack.primary.services.registry.state_hash()
