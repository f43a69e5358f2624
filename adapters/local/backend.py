"""The local backend: each LaunchJob runs as a real process on this host.

- `start()` registers this host as the one node of cluster `settings.cluster`
  and keeps it beating (adapters/local/node.py), and starts the executor
  (adapters/backend.py: durable `exec-<cluster>`, ack after acting).
- Launch: argv = spec.command + spec.args in `work/<tenant>/<job>/<attempt>/`
  (adapters/local/workdir.py: inputs, outputs, environment). The container
  `image` is ignored: processes run directly on the host (logged once). A spec
  without a command, or one that cannot start, exits 127 (126: not
  executable) with the reason. Reports: starting, running, exited (exit code,
  CPU seconds, peak RSS), each after its predecessor; the exit only after the
  run's last log line is stored. Only the executor of the lead member's cluster
  (placements[0]) reports; members elsewhere run unreported.
- Stop: the run's process group gets SIGTERM, then SIGKILL after `stop_grace`;
  its exit is not reported (the job has already moved on). The control plane
  cancels a job past `timeout_s` (its timeout sweep -> StopJob); as a backstop
  that holds without the control plane, a run still alive `timeout_grace`
  seconds after its timeout is killed here and exits 124 ("timed out").
- `close()` stops the executor and the heartbeats, then kills the runs still
  going and reports them exited 143 ("local executor stopped"), so no job stays
  running in the log for a process nobody watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from adapters.backend import Executor, PermanentAdapterError, Reporter
from adapters.local.node import LocalSettings, heartbeats, register_host
from adapters.local.process import Exit, LocalRun
from adapters.local.shipper import LogShipper
from adapters.local.workdir import Workdir, prepare
from schemas import fleet as f
from schemas.compute import LaunchJob, StopJob
from schemas.logs import MAIN_TASK

log = logging.getLogger("tessera.local")
TIMED_OUT, NOT_FOUND, NOT_EXECUTABLE, STOPPED = 124, 127, 126, 143


class LocalBackend:
    def __init__(self, nc, settings: LocalSettings | None = None) -> None:
        self.nc = nc
        self.settings = settings or LocalSettings()
        self.cluster = self.settings.cluster
        self.reporter = Reporter(nc, self.cluster, source="/tessera/executor/local")
        self.executor = Executor(nc, self)
        self.runs: dict[tuple[str, str, int], LocalRun] = {}
        self._tasks: set[asyncio.Task] = set()  # runs being finished
        self._loops: list[asyncio.Task] = []  # heartbeats, executor
        self._warned_image = False

    async def start(self) -> None:
        await self.register()
        self._loops = [asyncio.ensure_future(heartbeats(self.nc, self.reporter, self.settings)),
                       asyncio.ensure_future(self.executor.run())]

    async def register(self) -> f.NodeSpec:
        return await register_host(self.nc, self.reporter, self.settings)

    async def launch(self, tenant: str, order: LaunchJob) -> None:
        mine = [p for p in order.placements if p.cluster == self.cluster]
        if not mine:
            raise PermanentAdapterError(f"job {order.job_id} has no placement on cluster {self.cluster}")
        if not self._warned_image:
            self._warned_image = True
            log.warning("local backend: container images are ignored; jobs run as host processes")
        key, lead = (tenant, order.job_id, order.attempt), order.placements[0].cluster == self.cluster
        run = LocalRun([*order.spec.command, *order.spec.args],
                       LogShipper(self.nc, tenant, order.task or MAIN_TASK, order.job_id, order.attempt))
        self.runs[key] = run  # from here a StopJob finds it, whatever step the launch is at
        try:
            gpus = sorted({i for p in mine for i in p.gpu_indices})
            workdir = await asyncio.to_thread(prepare, self.settings.home, tenant, order, gpus,
                                             self.settings.platform_env)
            for note in workdir.notes:
                run.shipper.put("stderr", f"[tessera] {note}")
            if lead:
                await self.reporter.starting(tenant, order.job_id, order.attempt)
            failed = None if run.stopped else await self._start(run, workdir)
        except BaseException:
            self.runs.pop(key, None)
            await run.kill(0)
            await run.shipper.close()
            raise
        if run.proc is None:  # never started: it could not, or it was stopped first
            self.runs.pop(key, None)
            if failed is not None:
                run.shipper.put("stderr", f"[tessera] {failed[1]}")
            await run.shipper.close()
            if failed is not None and lead and not run.stopped:
                await self.reporter.exited(tenant, order.job_id, order.attempt, failed[0], failed[1])
            return
        if run.stopped:  # stopped while it was being started
            await run.kill(self.settings.stop_grace)
        elif lead:
            await self.reporter.running(tenant, order.job_id, order.attempt)  # before any exit report
        self._spawn(self._finish(tenant, order, run, lead))  # a stopped run's exit is not reported

    async def _start(self, run: LocalRun, workdir: Workdir) -> tuple[int, str] | None:
        if not run.argv:
            return NOT_FOUND, "the spec has no command: the local backend runs command + args, not images"
        try:
            await run.start(workdir.path, workdir.env)
        except PermissionError as exc:
            return NOT_EXECUTABLE, f"cannot execute {run.argv[0]!r}: {exc.strerror}"
        except OSError as exc:
            return NOT_FOUND, f"cannot start {run.argv[0]!r}: {exc.strerror or exc}"
        return None

    async def _finish(self, tenant: str, order: LaunchJob, run: LocalRun, lead: bool) -> None:
        key, reason = (tenant, order.job_id, order.attempt), ""
        limit = order.spec.timeout_s
        waiter = asyncio.ensure_future(run.wait())
        await asyncio.wait({waiter}, timeout=limit + self.settings.timeout_grace if limit else None)
        if not waiter.done() and not run.stopped:
            await run.kill(self.settings.stop_grace)
            reason = f"timed out after {limit}s"
        done = await waiter
        if reason:
            done = Exit(TIMED_OUT, done.cpu_seconds, done.max_rss_mb)
        await run.shipper.close()
        self.runs.pop(key, None)
        if lead and not run.stopped:
            await self.reporter.exited(tenant, order.job_id, order.attempt, done.code, reason,
                                       cpu_seconds=done.cpu_seconds, max_rss_mb=done.max_rss_mb)

    async def stop(self, tenant: str, order: StopJob) -> None:
        run = self.runs.get((tenant, order.job_id, order.attempt))
        if run is None:
            return
        run.stopped = True  # a launch still under way sees this and does not start (or kills) the process
        await run.kill(self.settings.stop_grace)

    async def close(self) -> None:
        await self.executor.stop()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        for (tenant, job, attempt), run in list(self.runs.items()):
            run.stopped = True
            await run.kill(self.settings.stop_grace)
            with contextlib.suppress(Exception):
                await self.reporter.exited(tenant, job, attempt, STOPPED, "local executor stopped")
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
