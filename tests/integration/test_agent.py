"""`tessera agent` as a real process with the vLLM stand-in, against a real nats-server.

The agent registers its engine in `tessera_agents` with live load, reports the
replica ready on CMD, leaves discovery and stops its engine on SIGTERM, and
expires from discovery (its engine dying with it) when killed with SIGKILL. A
failed start exits non-zero with the reason and reports the replica lost.
With the control plane running, the agent's ready report makes its
deployment serve, and its SIGTERM takes it out again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from bus.discovery import open_registry
from schemas import decode
from schemas import fleet as f
from schemas import inference as inf
from schemas import jobs as j
from tests.factories.control import PLATFORM, eventually, node
from tests.integration.conftest import stored_msgs
from tests.integration.test_inference_control import bus, command, plane  # noqa: F401  (fixtures)

TESSERA = str(Path(sys.executable).parent / "tessera")
STANDIN = f"{sys.executable} -m adapters.agent.standin"


def start_agent(nats_url: str, *args: str, deployment: str = "d1", replica: int = 0, generation: int = 1,
                engine_args: tuple[str, ...] = (), vllm: str = STANDIN, tenant: str = "acme", engine: str = "vllm",
                model: str = "org/tiny") -> subprocess.Popen:
    env = {**os.environ, "TESSERA_NATS_URL": nats_url, "TESSERA_TENANT": tenant, "TESSERA_VLLM_COMMAND": vllm}
    argv = [TESSERA, "agent", "--deployment", deployment, "--replica", str(replica), "--generation", str(generation),
            "--model", model, "--engine", engine, "--max-concurrent", "4", "--interval", "0.3", *args]
    if engine_args:
        argv += ["--", *engine_args]
    # the engine writes to the agent's stdout/stderr: files, so a chatty engine never blocks on a full pipe
    out = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.output = out
    return proc


def finish(proc: subprocess.Popen, timeout: float = 15.0) -> tuple[int, str]:
    """Exit code and everything the agent and its engine printed."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    proc.output.seek(0)
    return proc.returncode, proc.output.read()


async def commands(nc, kind) -> list:
    return [(env.tenant, env.data) for env in (decode(m.data) for m in await stored_msgs(nc, "CMD"))
            if isinstance(env.data, kind)]


def refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/health", timeout=1.0)
    except httpx.HTTPError:
        return True
    return False


@pytest.fixture
async def registry(nc):
    return await open_registry(nc.jetstream())


async def test_agent_registers_reports_load_and_leaves_on_sigterm(nats_server, nc, registry):
    proc = start_agent(nats_server.url, engine_args=("--token-delay", "0.15"))
    try:
        found = await eventually(lambda: registry.get("acme.d1.0.1"), timeout=30)
        assert (found.model, found.engine, found.max_concurrent, found.running) == ("org/tiny", "vllm", 4, 0)
        async with httpx.AsyncClient(base_url=found.url, timeout=10) as http:
            assert (await http.get("/v1/models")).json()["data"][0]["id"] == "org/tiny"
            # a streamed request in flight shows up as load in the next heartbeats
            body = {"model": "org/tiny", "stream": True, "max_tokens": 20,
                    "messages": [{"role": "user", "content": " ".join(["w"] * 30)}]}
            async with http.stream("POST", "/v1/chat/completions", json=body) as streamed:
                loaded = await eventually(lambda: _running(registry, 1), timeout=10)
                chunks = [line async for line in streamed.aiter_lines() if line.startswith("data: ")]
        assert loaded.updated > found.updated and chunks[-1] == "data: [DONE]" and '"usage"' in chunks[-2]
        await eventually(lambda: _running(registry, 0), timeout=10)
        [(tenant, ready)] = await commands(nc, inf.ReportReplicaReady)
        assert (tenant, ready.deployment_id, ready.replica, ready.generation, ready.endpoint) == (
            "acme", "d1", 0, 1, found.url)

        proc.send_signal(signal.SIGTERM)
        code, err = finish(proc)
        assert code == 0, err
        assert await registry.get("acme.d1.0.1") is None  # deregistered, not merely expired
        assert refused(found.url)  # the engine is stopped with the agent
        [(_, lost)] = await commands(nc, inf.ReportReplicaLost)
        assert (lost.generation, lost.reason) == (1, "agent stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _running(registry, n: int):
    entry = await registry.get("acme.d1.0.1")
    return entry if entry is not None and entry.running == n else None


@pytest.mark.slow
async def test_an_agent_killed_with_sigkill_expires_from_discovery_and_takes_its_engine(nats_server, nc, registry):
    proc = start_agent(nats_server.url, replica=1)
    try:
        found = await eventually(lambda: registry.get("acme.d1.1.1"), timeout=30)
        proc.kill()
        proc.wait()
        killed = time.monotonic()
        await eventually(lambda: refused(found.url), timeout=10)  # the engine got its parent-death signal
        await eventually(lambda: _gone(registry, "acme.d1.1.1"), timeout=20)
        assert 5 < time.monotonic() - killed < 20  # expired by the bucket's TTL (10 s), nobody deleted it
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def _gone(registry, key: str) -> bool:
    return await registry.get(key) is None


async def test_an_engine_that_never_becomes_healthy_fails_the_agent_with_the_reason(nats_server, nc):
    proc = start_agent(nats_server.url, "--startup-timeout", "1.5", engine_args=("--startup-delay", "30"))
    code, err = finish(proc)
    assert code == 1 and "not healthy within 1.5s" in err
    [(tenant, lost)] = await commands(nc, inf.ReportReplicaLost)
    assert tenant == "acme" and "not healthy within 1.5s" in lost.reason
    assert await commands(nc, inf.ReportReplicaReady) == []


async def test_an_engine_that_exits_at_start_fails_the_agent(nats_server, nc):
    code, err = finish(start_agent(nats_server.url, vllm=f"{sys.executable} -c 'raise SystemExit(3)'"))
    assert code == 1 and "engine exited with code 3 before it was healthy" in err
    [(_, lost)] = await commands(nc, inf.ReportReplicaLost)
    assert "code 3" in lost.reason


def test_agent_without_tenant_or_nats_url_refuses_to_start():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    base = [TESSERA, "agent", "--deployment", "d", "--replica", "0", "--generation", "1", "--model", "m"]
    no_tenant = subprocess.run(base, env=env, capture_output=True, text=True, timeout=30, check=False)
    assert no_tenant.returncode == 2 and "no tenant" in no_tenant.stderr
    no_bus = subprocess.run([*base, "--tenant", "acme"], env=env, capture_output=True, text=True, timeout=30, check=False)
    assert no_bus.returncode == 2 and "TESSERA_NATS_URL is not set" in no_bus.stderr
    assert "Traceback" not in no_tenant.stderr + no_bus.stderr


async def test_the_agents_ready_report_makes_its_deployment_serve(nats_server, bus, plane):  # noqa: F811
    _, log = plane
    await command(bus, PLATFORM, f.OnboardCluster(spec=f.ClusterSpec(name="c1", nodes=[node("n1")])))
    spec = inf.DeploymentSpec(name="tiny", model="org/tiny", gpus=1, max_concurrent_requests=4)
    await command(bus, "acme", inf.CreateDeployment(deployment_id="d9", spec=spec))
    [scheduled] = await eventually(lambda: log.of(inf.ReplicaScheduled, deployment_id="d9"))
    await eventually(lambda: log.of(j.JobPlaced, job_id=scheduled.job_id))
    job_args = scheduled.job.args  # exactly what the backend will run after `tessera agent`
    proc = start_agent(nats_server.url, deployment="d9", generation=scheduled.generation)
    assert job_args[:6] == ["--deployment", "d9", "--replica", "0", "--generation", str(scheduled.generation)]
    try:
        await eventually(lambda: log.status("d9") == "serving", timeout=30)
        [ready] = log.of(inf.ReplicaReady, deployment_id="d9")
        assert ready.endpoint.startswith("http://127.0.0.1:") and not refused(ready.endpoint)
        proc.send_signal(signal.SIGTERM)
        assert finish(proc)[0] == 0
        [lost] = await eventually(lambda: log.of(inf.ReplicaLost, deployment_id="d9"))
        assert lost.reason == "agent stopped" and log.status("d9") != "serving"
        assert await stored_msgs(bus.nc, "DLQ") == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
