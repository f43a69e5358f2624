"""The local backend on a real nats-server with the real control plane: jobs are real processes on this host.

Only commands enter (as the gateway sends them); the control plane admits and
places, dispatch publishes LaunchJob/StopJob on EXEC, and the local executor
runs the process, ships its output to LOG and reports back on CMD.
"""

from __future__ import annotations

import contextlib
import sys
import textwrap

import psutil
import pytest

from adapters.local import LocalBackend, LocalSettings
from bus.commands import send
from bus.connection import Bus, connect
from bus.control import ControlPlane, ControlSettings
from bus.logs import read_logs
from bus.publish import Publisher
from bus.read import load_aggregate, replay
from bus.streams import ensure_streams
from schemas import Envelope, decode
from schemas import fleet as f
from schemas import jobs as j
from schemas import workflows as w
from tests.factories.control import PLATFORM, eventually

PY = sys.executable


def python(code: str, **more) -> j.JobSpec:
    return j.JobSpec(name="local", image="ignored:latest", command=[PY, "-c", textwrap.dedent(code)], **more)


@pytest.fixture
async def bus(nats_server, settings):
    nc = await connect(nats_server.url, settings)
    await ensure_streams(nc.jetstream(), settings)
    yield Bus(nc=nc, js=nc.jetstream(), settings=settings, url=nats_server.url)
    await nc.close()


class Stack:
    def __init__(self, bus: Bus, backend: LocalBackend) -> None:
        self.bus, self.backend = bus, backend
        self.publisher = Publisher(bus.nc, stream="CMD")
        self.sent = 0

    async def command(self, tenant: str, cmd) -> None:
        self.sent += 1
        await send(self.publisher, Envelope.for_command(cmd, tenant=tenant, actor="alice", source="/tests",
                                                        time=ControlSettings().clock(), id=f"user-{self.sent}"))

    async def events(self, tenant: str, aggregate: str, agg_id: str) -> list:
        return [decode(m.data).data for m in await load_aggregate(self.bus.nc, tenant, aggregate, agg_id)]

    async def reaches(self, tenant: str, job: str, kind, timeout: float = 15.0):
        async def check():
            return next((e for e in await self.events(tenant, "job", job) if isinstance(e, kind)), None)
        return await eventually(check, timeout=timeout)

    async def logs(self, tenant: str, job: str) -> list[tuple[str, str]]:
        return [(line.stream, line.line) async for _, line in read_logs(self.bus.nc, tenant, job)]

    async def stream(self, name: str) -> list[Envelope]:
        out: list[Envelope] = []
        await replay(self.bus.nc, name, lambda m: out.append(decode(m.data)))
        return out


@contextlib.asynccontextmanager
async def running(bus, home, *, sweep_interval: float = 0.3, **local):
    plane = ControlPlane(bus, ControlSettings(sweep_interval=sweep_interval, track_interval=0.2))
    await plane.start()
    backend = LocalBackend(bus.nc, LocalSettings(home=home, node="box", gpus=(None, 0, 0),
                                                 heartbeat_interval=0.5, stop_grace=2.0, **local))
    await backend.start()
    s = Stack(bus, backend)
    await eventually(lambda: s.events(PLATFORM, "node", f.node_id("local", "box")))
    try:
        yield s
    finally:
        await backend.close()
        await plane.stop()


@pytest.fixture
async def stack(bus, tmp_path):
    async with running(bus, tmp_path) as s:
        yield s


async def test_a_job_runs_as_a_real_process_its_output_is_logged_in_order_and_its_files_kept(stack, tmp_path):
    spec = python("""
        import os, sys
        for i in range(20):
            print(f"line {i}", flush=True)
        print("careful", file=sys.stderr, flush=True)
        with open(os.path.join(os.environ["TESSERA_OUTPUTS"], "result.txt"), "w") as out:
            out.write(os.environ["TESSERA_JOB_ID"] + " " + os.environ["TESSERA_ATTEMPT"])
    """)
    await stack.command("acme", j.SubmitJob(job_id="hello", spec=spec))
    await stack.reaches("acme", "hello", j.JobSucceeded)
    history = [type(e).__name__ for e in await stack.events("acme", "job", "hello")]
    assert history[-4:] == ["JobPlaced", "JobStarting", "JobRunning", "JobSucceeded"]

    logs = await stack.logs("acme", "hello")
    assert [text for stream, text in logs if stream == "stdout"] == [f"line {i}" for i in range(20)]
    assert ("stderr", "careful") in logs
    assert (tmp_path / "work/acme/hello/1/outputs/result.txt").read_text() == "hello 1"

    (exited,) = [c.data for c in await stack.stream("CMD") if isinstance(c.data, j.ReportJobExited)]
    assert (exited.exit_code, exited.attempt) == (0, 1)
    assert exited.cpu_seconds is None or exited.cpu_seconds >= 0
    assert await stack.stream("DLQ") == []


async def test_a_nonzero_exit_fails_the_job_with_its_exit_code_and_a_missing_program_exits_127(stack):
    await stack.command("acme", j.SubmitJob(job_id="three", spec=python("import sys; sys.exit(3)")))
    failed = await stack.reaches("acme", "three", j.JobFailed)
    assert failed.exit_code == 3
    missing = j.JobSpec(name="nope", image="x", command=["/no/such/program"])
    await stack.command("acme", j.SubmitJob(job_id="nope", spec=missing))
    failed = await stack.reaches("acme", "nope", j.JobFailed)
    assert failed.exit_code == 127 and "/no/such/program" in failed.reason
    assert any("cannot start" in text for _, text in await stack.logs("acme", "nope"))


async def wait_for_pid(path) -> int:
    await eventually(lambda: path.exists() and path.read_text().strip())
    return int(path.read_text())


async def test_cancel_kills_the_process_group_and_the_job_ends_cancelled(stack, tmp_path):
    pidfile = tmp_path / "pid"
    spec = python(f"""
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
        time.sleep(60)
    """)
    await stack.command("acme", j.SubmitJob(job_id="sleepy", spec=spec))
    await stack.reaches("acme", "sleepy", j.JobRunning)
    await eventually(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(psutil.pid_exists(p) for p in pids)

    await stack.command("acme", j.CancelJob(job_id="sleepy", reason="user asked"))
    await stack.reaches("acme", "sleepy", j.JobCancelled)
    await eventually(lambda: not any(_alive(p) for p in pids), timeout=10)
    assert not [c for c in await stack.stream("CMD") if isinstance(c.data, j.ReportJobExited)]


def _alive(pid: int) -> bool:
    with contextlib.suppress(psutil.NoSuchProcess):
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    return False


async def test_a_job_past_its_timeout_is_cancelled_and_its_process_killed(stack, tmp_path):
    pidfile = tmp_path / "pid-timeout"
    spec = python(f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)",
                  timeout_s=1)
    await stack.command("acme", j.SubmitJob(job_id="slow", spec=spec))
    pid = await wait_for_pid(pidfile)
    cancelled = await stack.reaches("acme", "slow", j.JobCancelled)
    assert cancelled.reason == "timeout"
    await eventually(lambda: not _alive(pid), timeout=10)


async def test_without_the_control_planes_sweep_the_executor_still_ends_a_run_past_its_timeout(bus, tmp_path):
    async with running(bus, tmp_path, sweep_interval=600, timeout_grace=0.0) as stack:
        pidfile = tmp_path / "pid-backstop"
        spec = python(f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)",
                      timeout_s=1)
        await stack.command("acme", j.SubmitJob(job_id="stuck", spec=spec))
        pid = await wait_for_pid(pidfile)
        failed = await stack.reaches("acme", "stuck", j.JobFailed)
        assert (failed.exit_code, failed.reason) == (124, "timed out after 1s")
        assert not _alive(pid)


async def test_a_workflow_task_reads_its_upstream_tasks_output_through_inputs(stack):
    produce = python("""
        import os
        with open(os.path.join(os.environ["TESSERA_OUTPUT_MODEL"], "weights.txt"), "w") as out:
            out.write("42")
    """)
    consume = python("""
        import os
        print("weights:", open(os.path.join(os.environ["TESSERA_INPUT_TRAIN_MODEL"], "weights.txt")).read())
        print("also at:", sorted(os.listdir(os.path.join(os.environ["TESSERA_INPUTS"], "train", "model"))))
    """)
    tasks = [w.TaskSpec(**{**produce.model_dump(), "name": "train"}, outputs=["model"]),
             w.TaskSpec(**{**consume.model_dump(), "name": "evaluate"},
                        inputs=[w.InputRef(task="train", output="model")])]
    await stack.command("acme", w.SubmitWorkflow(workflow_id="wf1", spec=w.WorkflowSpec(name="pipe", tasks=tasks)))

    async def ended():
        return next((e for e in await stack.events("acme", "workflow", "wf1")
                     if isinstance(e, (w.WorkflowSucceeded, w.WorkflowFailed))), None)
    assert isinstance(await eventually(ended, timeout=20), w.WorkflowSucceeded)
    ready = {e.task: e.job_id for e in await stack.events("acme", "workflow", "wf1") if isinstance(e, w.TaskReady)}
    logs = await stack.logs("acme", ready["evaluate"])
    assert ("stdout", "weights: 42") in logs and ("stdout", "also at: ['weights.txt']") in logs
    stored: list = []
    await replay(stack.bus.nc, "LOG", stored.append, subject=f"log.acme.{ready['evaluate']}.*")
    assert {m.subject for m in stored} == {f"log.acme.{ready['evaluate']}.evaluate"}  # named by its task


async def test_a_gpu_job_waits_on_a_gpu_less_local_cluster_with_the_allocators_reason(stack):
    await stack.command("acme", j.SubmitJob(job_id="gpu", spec=python("print(1)", gpus=1)))
    waiting = await stack.reaches("acme", "gpu", j.JobUnschedulable)
    assert str(waiting.reason) == "no_matching_nodes{constraint=gpu_model, want=any}"
    status = [type(e).__name__ for e in await stack.events("acme", "job", "gpu")]
    assert "JobPlaced" not in status


async def test_a_restarted_backend_registers_nothing_new(stack, tmp_path):
    before = len(await stack.stream("CMD"))
    again = LocalBackend(stack.bus.nc, LocalSettings(home=tmp_path, node="box", gpus=(None, 0, 0)))
    await again.register()
    after = [c.data for c in (await stack.stream("CMD"))[before:]]
    assert not [c for c in after if isinstance(c, (f.OnboardCluster, f.AddNode))]
