"""`tessera deployments` and `tessera keys` against a real gateway (real nats-server, control plane, HTTP).

Commands run in-process through Typer's CliRunner (the console script's code path, separate
stdout/stderr); the error path runs the installed `tessera` script, so the exit code and the
one-line error are exactly what a user sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gateway.cli import app
from tests.e2e.conftest import eventually

TESSERA = str(Path(sys.executable).with_name("tessera"))
SPEC = {"name": "cli-chat", "model": "acme/mistral-7b", "gpus": 1, "gpu_model": "H100", "min_replicas": 1,
        "max_replicas": 2}


@pytest.fixture(scope="module")
def env(stack, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("cli-deployments")
    return {"TESSERA_HOME": str(home), "TESSERA_URL": stack.url, "TESSERA_TOKEN": stack.admin_token, "COLUMNS": "200"}


def tessera(env, *args: str):
    result = CliRunner().invoke(app, list(args), env=env)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def ok_json(env, *args: str):
    result = tessera(env, *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("specs") / "chat.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


def test_create_list_show_scale_stop(env, fleet, spec_file):
    created = ok_json(env, "deployments", "create", str(spec_file))
    dep = created["id"]
    assert created["link"] == f"/v1/deployments/{dep}"
    assert dep in [d["id"] for d in ok_json(env, "deployments", "list")["items"]]
    shown = eventually(lambda: (d := ok_json(env, "deployments", "show", dep))["status"] == "placed"
                       and d["replicas"][0]["placements"] and d)
    assert shown["replicas"][0]["placements"][0]["cluster"] == "c1"
    table = tessera(env, "deployments", "show", dep)
    assert table.exit_code == 0 and "cli-chat" in table.stdout and "c1/n" in table.stdout

    assert ok_json(env, "deployments", "scale", dep, "2")["id"] == dep
    assert eventually(lambda: len(ok_json(env, "deployments", "show", dep)["replicas"]) == 2)
    too_many = tessera(env, "deployments", "scale", dep, "5")
    assert too_many.exit_code == 1 and "replicas" in too_many.stderr and "Traceback" not in too_many.stderr

    stopped = tessera(env, "deployments", "stop", dep)
    assert stopped.exit_code == 0 and f"deployment {dep}: stopped" in stopped.stdout
    assert ok_json(env, "deployments", "show", dep)["status"] == "stopped"


def test_create_wait_exits_non_zero_when_it_cannot_serve(env, fleet, tmp_path):
    path = tmp_path / "never.json"
    path.write_text(json.dumps({**SPEC, "name": "never"}))  # no agent runs here: it never serves
    result = tessera(env, "deployments", "create", str(path), "--wait", "--timeout", "1")
    assert result.exit_code == 1 and "after 1s" in result.stderr and "error:" in result.stderr


def test_a_bad_spec_is_one_line_with_the_field_and_exit_1(env, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**SPEC, "max_replicas": 0}))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | env
    result = subprocess.run([TESSERA, "deployments", "create", str(path)], capture_output=True, text=True,
                            timeout=60, env=environ, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and "spec.max_replicas" in result.stderr


def test_keys_create_prints_the_key_once_list_hides_it_revoke_stops_it(env, stack):
    result = tessera(env, "keys", "create", "ci", "--models", "acme/mistral-7b", "--rpm", "30", "--budget", "9.99",
                     "--expires-in", "600")
    assert result.exit_code == 0, result.stderr
    key = result.stdout.strip()
    assert key.startswith("tsk-live-") and "\n" not in key and "shown only now" in result.stderr
    listed = ok_json(env, "keys", "list")["items"]
    [mine] = [k for k in listed if k["name"] == "ci"]
    assert (mine["rpm"], mine["budget"], mine["allowed_models"]) == (30, "9.99", ["acme/mistral-7b"])
    assert key not in json.dumps(listed)
    table = tessera(env, "keys", "list")
    assert table.exit_code == 0 and mine["id"] in table.stdout and key not in table.stdout
    assert mine["budget_mode"] == "hard"
    assert tessera(env, "keys", "budget", mine["id"], "20", "--mode", "soft").exit_code == 0
    shown = ok_json(env, "keys", "show", mine["id"])
    assert (shown["budget"], shown["budget_mode"]) == ("20", "soft")
    assert tessera(env, "keys", "budget", mine["id"], "none").exit_code == 0
    assert ok_json(env, "keys", "show", mine["id"])["budget"] is None
    bad = tessera(env, "keys", "budget", mine["id"], "lots")
    assert bad.exit_code == 1 and "(field: budget)" in bad.stderr and "Traceback" not in bad.output
    assert ok_json(env, "keys", "revoke", mine["id"])["status"] == "revoked"
    assert [k["status"] for k in ok_json(env, "keys", "list")["items"] if k["id"] == mine["id"]] == ["revoked"]
    missing = tessera(env, "keys", "revoke", "AAAAAAAAAAAA")
    assert missing.exit_code == 1 and "not found" in missing.stderr
