"""The `tessera` client commands against a real gateway (real nats-server, control plane, HTTP).

Most commands run in-process through Typer's CliRunner (same code path as the console
script, separate stdout/stderr); the error-path tests run the installed `tessera` console
script as a subprocess, so exit codes, stderr and the absence of tracebacks are exactly
what a user sees. A local compute backend (real processes) runs on the stack for `--wait`.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from domains.registry.spec import validate_cluster_spec
from gateway.cli import app
from tests.e2e.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TESSERA = str(Path(sys.executable).with_name("tessera"))
BAD_CLUSTER = ROOT / "tests" / "fixtures" / "clusters" / "invalid-many-problems.yaml"
LOCAL = {"tessera.dev/backend": "local"}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def env(stack, home) -> dict[str, str]:
    return {"TESSERA_HOME": str(home), "TESSERA_URL": stack.url, "TESSERA_TOKEN": stack.admin_token, "COLUMNS": "200"}


def tessera(env: dict[str, str], *args: str, input: str | None = None):
    result = CliRunner().invoke(app, list(args), env=env, input=input)
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    return result


def ok_json(env, *args: str):
    result = tessera(env, *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def process(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")} | env
    return subprocess.run([TESSERA, *args], capture_output=True, text=True, timeout=timeout, env=environ)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def local_cluster(stack, tmp_path_factory):
    """The local backend (real processes on this host) as cluster `local`, node `here`."""
    from adapters.local.backend import LocalBackend, LocalSettings

    backend = LocalBackend(stack.bus.nc, LocalSettings(home=tmp_path_factory.mktemp("local-work"), node="here",
                                                       gpus=(None, 0, 0), stop_grace=1.0))
    stack.call(backend.start())
    admin = stack.client(stack.admin_token)
    eventually(lambda: admin.get("/v1/nodes", params={"cluster": "local"}).json()["items"], timeout=20)
    yield backend
    stack.call(backend.close())
    admin.close()


def spec_file(tmp_path: Path, name: str, spec: dict) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return str(path)


# --- login ------------------------------------------------------------------------------------------------


def test_login_checks_the_token_and_saves_it_privately_then_whoami_uses_it(stack, tmp_path):
    plain = {"TESSERA_HOME": str(tmp_path)}
    result = tessera(plain, "login", "--url", stack.url, "--token", stack.admin_token)
    assert result.exit_code == 0, result.stderr
    saved = tmp_path / "cli.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"url": stack.url, "token": stack.admin_token}
    me = ok_json(plain, "whoami")
    assert me["role"] == "platform-admin" and me["user_id"] == "root"


def test_login_asks_for_the_token_without_echo_when_not_given(stack, tmp_path):
    result = tessera({"TESSERA_HOME": str(tmp_path)}, "login", "--url", stack.url, input=stack.admin_token + "\n")
    assert result.exit_code == 0, result.stderr
    assert stack.admin_token not in result.output
    assert json.loads((tmp_path / "cli.json").read_text())["token"] == stack.admin_token


def test_a_refused_token_is_one_line_and_keeps_the_working_login(stack, tmp_path):
    tessera({"TESSERA_HOME": str(tmp_path)}, "login", "--url", stack.url, "--token", stack.admin_token)
    before = (tmp_path / "cli.json").read_text()
    result = process({"TESSERA_HOME": str(tmp_path)}, "login", "--url", stack.url, "--token", "tsk_nope_nope")
    assert_one_line_error(result, "refused this token")
    assert (tmp_path / "cli.json").read_text() == before


def test_logout_forgets_the_token(stack, tmp_path):
    tessera({"TESSERA_HOME": str(tmp_path)}, "login", "--url", stack.url, "--token", stack.admin_token)
    assert tessera({"TESSERA_HOME": str(tmp_path)}, "logout").exit_code == 0
    result = process({"TESSERA_HOME": str(tmp_path)}, "whoami")
    assert_one_line_error(result, "tessera login")


def test_a_new_token_is_printed_once_alone_on_stdout_and_works(env, stack, tmp_path):
    result = tessera(env, "tokens", "create", "laptop")
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("tsk_") and "shown only now" in result.stderr
    me = ok_json({"TESSERA_HOME": str(tmp_path), "TESSERA_URL": stack.url, "TESSERA_TOKEN": token}, "whoami")
    assert me["user_id"] == "root"
    listed = ok_json(env, "tokens", "list", "--all-pages")
    assert token not in json.dumps(listed)
    assert "laptop" in {t["name"] for t in listed["items"]}


# --- clusters ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_cluster(env) -> dict:
    """examples/cluster.yaml: dry-run first (nothing onboarded), then onboarded through the CLI."""
    checked = tessera(env, "clusters", "onboard", str(EXAMPLES / "cluster.yaml"), "--dry-run")
    assert checked.exit_code == 0, checked.stderr
    assert "valid" in checked.stdout
    assert "demo-gpu" not in {c["name"] for c in ok_json(env, "clusters", "list")["items"]}
    return ok_json(env, "clusters", "onboard", str(EXAMPLES / "cluster.yaml"))


def test_the_example_cluster_is_onboarded_from_yaml_and_listed_with_its_nodes(env, demo_cluster):
    assert demo_cluster["id"] == "demo-gpu"
    assert "demo-gpu" in {c["name"] for c in ok_json(env, "clusters", "list")["items"]}
    nodes = eventually(lambda: len(n := ok_json(env, "nodes", "list", "--cluster", "demo-gpu")["items"]) == 3 and n)
    assert {n["name"] for n in nodes} == {"h100-01", "h100-02", "l40s-01"}
    shown = tessera(env, "clusters", "show", "demo-gpu")
    assert shown.exit_code == 0 and "h100-02" in shown.stdout and "l40s-01" in shown.stdout


def test_a_bad_cluster_file_lists_every_problem_with_its_path_and_line(env):
    expected = validate_cluster_spec(BAD_CLUSTER.read_text())
    for args in (["--dry-run"], []):
        result = process(env, "clusters", "onboard", str(BAD_CLUSTER), *args)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines[0].startswith("error: ")
        assert len(lines) == 1 + len(expected), result.stderr
        for problem in expected:
            assert any(problem.path in line and problem.message in line for line in lines[1:]), problem
    assert "gpu east" not in json.dumps(ok_json(env, "clusters", "list"))


def test_cordon_and_uncordon_a_node(env, demo_cluster):
    eventually(lambda: ok_json(env, "nodes", "list", "--cluster", "demo-gpu")["items"])
    assert ok_json(env, "clusters", "cordon", "demo-gpu", "h100-01", "--reason", "maintenance")["id"]
    node = eventually(lambda: next(n for n in ok_json(env, "nodes", "list", "--cluster", "demo-gpu")["items"]
                                   if n["name"] == "h100-01")["status"] == "cordoned")
    assert node
    ok_json(env, "clusters", "uncordon", "demo-gpu", "h100-01")
    eventually(lambda: next(n for n in ok_json(env, "nodes", "list", "--cluster", "demo-gpu")["items"]
                            if n["name"] == "h100-01")["status"] == "ready")


# --- jobs -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpu_job(env, tmp_path_factory) -> str:
    """A job that waits for GPUs nobody runs (parked on the simulated cluster or queued): safe to cancel."""
    path = spec_file(tmp_path_factory.mktemp("jobs"), "big.yaml",
                     {"name": "big-train", "image": "ghcr.io/acme/train:1", "gpus": 8, "gpu_model": "B200",
                      "labels": {"team": "ml"}})
    return ok_json(env, "jobs", "submit", path)["id"]


def test_submit_answers_json_with_the_id_and_the_job_is_listed_and_shown(env, gpu_job):
    listed = ok_json(env, "jobs", "list", "--label", "team=ml")
    assert gpu_job in {j["id"] for j in listed["items"]}
    shown = ok_json(env, "jobs", "show", gpu_job)
    assert shown["id"] == gpu_job and shown["name"] == "big-train" and shown["gpus"] == 8
    table = tessera(env, "jobs", "show", gpu_job)
    assert table.exit_code == 0 and gpu_job in table.stdout and "big-train" in table.stdout


def test_list_with_all_pages_follows_cursors(env, tmp_path):
    for i in range(3):
        ok_json(env, "jobs", "submit", spec_file(tmp_path, f"p{i}.yaml", {"name": f"page-{i}", "image": "x",
                                                                          "gpus": 8, "gpu_model": "B200"}))
    one = ok_json(env, "jobs", "list", "--page-size", "1")
    assert len(one["items"]) == 1 and one["next_cursor"]
    every = ok_json(env, "jobs", "list", "--page-size", "1", "--all-pages")
    assert every["next_cursor"] is None
    assert {f"page-{i}" for i in range(3)} <= {j["name"] for j in every["items"]}


def test_the_same_idempotency_key_gives_the_same_job(env, tmp_path):
    path = spec_file(tmp_path, "once.yaml", {"name": "once", "image": "x", "gpus": 8, "gpu_model": "B200"})
    first = ok_json(env, "jobs", "submit", path, "--idempotency-key", "cli-key-1")
    again = ok_json(env, "jobs", "submit", path, "--idempotency-key", "cli-key-1")
    assert first["id"] == again["id"]


def test_cancel_then_the_events_show_it(env, gpu_job):
    assert ok_json(env, "jobs", "cancel", gpu_job, "--reason", "not needed")["status"] == "cancelled"
    events = ok_json(env, "jobs", "events", gpu_job)
    assert [e["type"].split(".")[2] for e in events["items"]][-1] == "job_cancelled"
    table = tessera(env, "jobs", "events", gpu_job)
    assert "job_submitted" in table.stdout and "job_cancelled" in table.stdout
    audit = ok_json(env, "audit", "job", gpu_job)
    assert audit["items"] == events["items"]


def test_every_problem_of_a_bad_job_file_is_printed(env, tmp_path):
    path = spec_file(tmp_path, "bad.yaml", {"name": "bad name", "image": "", "gpus": -1, "colour": "red"})
    result = process(env, "jobs", "submit", path)
    assert result.returncode == 1 and "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ")
    for field in ("spec.name", "spec.image", "spec.gpus", "spec.colour"):
        assert any(line.strip().startswith(field) for line in lines[1:]), result.stderr


def test_a_missing_id_is_one_line_exit_1_and_no_traceback(env):
    assert_one_line_error(process(env, "jobs", "show", "no-such-job"), "not found")
    assert_one_line_error(process(env, "workflows", "show", "no-such-workflow"), "not found")
    assert_one_line_error(process(env, "jobs", "cancel", "no-such-job"), "not found")


def test_a_usage_error_exits_2(env):
    assert process(env, "jobs", "show").returncode == 2
    assert process(env, "usage", "--by", "planet").returncode == 2


def test_no_gateway_is_a_one_line_hint(env, tmp_path):
    dead = {**env, "TESSERA_URL": "http://127.0.0.1:9"}
    assert_one_line_error(process(dead, "jobs", "list"), "no gateway at http://127.0.0.1:9", "tessera up")


def test_allocation_dry_run_lists_candidates_and_reasons(env, demo_cluster, tmp_path):
    eventually(lambda: len(ok_json(env, "nodes", "list", "--cluster", "demo-gpu")["items"]) == 3)
    path = spec_file(tmp_path, "fit.yaml", {"name": "fit", "image": "x", "gpus": 8, "gpu_model": "H100"})
    answer = ok_json(env, "dry-run", path)
    assert {c["node"] for c in answer["candidates"]} >= {"h100-02"}
    assert any("l40s-01" in node for node in answer["rejected"])
    table = tessera(env, "dry-run", path)
    assert table.exit_code == 0 and "candidates" in table.stdout and "l40s-01" in table.stdout


# --- workflows and --wait on real processes ---------------------------------------------------------------


def test_workflows_show_draws_the_dag_in_stages_with_task_states(env, local_cluster):
    answer = ok_json(env, "workflows", "submit", str(EXAMPLES / "workflow.yaml"))
    wf = answer["id"]
    shown = ok_json(env, "workflows", "show", wf)
    assert [t["name"] for t in shown["tasks"]] == ["prepare", "count-words", "count-lines", "report"]
    drawing = tessera(env, "workflows", "show", wf).stdout
    assert drawing.index("stage 1") < drawing.index("prepare") < drawing.index("stage 2") \
        < drawing.index("count-words") < drawing.index("stage 3") < drawing.index("report")
    assert "← count-words, count-lines" in drawing
    assert wf in {w["id"] for w in ok_json(env, "workflows", "list")["items"]}


def test_workflow_submit_wait_runs_the_example_to_success(env, local_cluster):
    result = tessera(env, "workflows", "submit", str(EXAMPLES / "workflow.yaml"), "--wait", "-o", "json")
    assert result.exit_code == 0, result.stderr
    final = json.loads(result.stdout)
    assert final["status"] == "succeeded"
    assert {t["status"] for t in final["tasks"]} == {"succeeded"}
    assert "task report: succeeded" in result.stderr
    report = next(t for t in final["tasks"] if t["name"] == "report")
    logs = tessera(env, "jobs", "logs", report["job_id"])
    assert "report: 100 lines, 1100 words" in logs.stdout


def test_job_submit_wait_exits_non_zero_with_the_reason_when_the_job_fails(env, local_cluster, tmp_path):
    path = spec_file(tmp_path, "fails.yaml", {"name": "fails", "image": "x", "node_selector": LOCAL,
                                             "command": ["sh", "-c", "echo going down >&2; exit 3"]})
    result = process(env, "jobs", "submit", path, "--wait")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: job ") and "failed" in last and "exit code 3" in last


def test_job_submit_wait_succeeds_and_logs_follow_prints_the_output(env, local_cluster, tmp_path):
    path = spec_file(tmp_path, "hello.yaml", {**yaml.safe_load((EXAMPLES / "job.yaml").read_text()),
                                              "node_selector": LOCAL})
    result = tessera(env, "jobs", "submit", path, "--wait", "-o", "json")
    assert result.exit_code == 0, result.stderr
    job = json.loads(result.stdout)
    assert job["status"] == "succeeded"
    followed = tessera(env, "jobs", "logs", job["id"], "-f")
    assert followed.exit_code == 0 and followed.stdout.splitlines()[-1] == "done"
