"""One local run: a real subprocess in its own process group, its output line by line, its resource use.

- Started with `start_new_session`, so the process and everything it starts
  share one process group: `kill(grace)` sends SIGTERM to the group, waits up
  to `grace` seconds, then SIGKILL; the group is killed after the leader exits
  too (no stray children).
- stdout and stderr are read line by line (utf-8, undecodable bytes replaced)
  into a `LogShipper`.
- Resource use is sampled with psutil every `sample_s` over the process tree:
  CPU seconds (user + system, the highest seen per pid) and the largest
  resident set (MB). A run shorter than one sample reports what the first
  sample saw.
- `wait()` gives the exit code: the process's own, or 128 + signal when a
  signal ended it (137 for SIGKILL, as a shell reports it).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass

import psutil

from adapters.local.shipper import LogShipper

READ_LIMIT = 1 << 20


@dataclass(frozen=True)
class Exit:
    code: int
    cpu_seconds: float | None
    max_rss_mb: float | None


class LocalRun:
    def __init__(self, argv: list[str], shipper: LogShipper, *, sample_s: float = 0.25) -> None:
        self.argv, self.shipper = argv, shipper
        self.sample_s = sample_s
        self.stopped = False  # set by a StopJob: the exit is not reported
        self.proc: asyncio.subprocess.Process | None = None
        self._cpu: dict[int, float] = {}
        self._rss = 0.0
        self._pumps: list[asyncio.Task] = []
        self._sampler: asyncio.Task | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self, cwd, env: dict[str, str]) -> None:
        """Spawn; raises OSError (not found, not executable) if it cannot start."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, cwd=str(cwd), env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True,
            limit=READ_LIMIT)
        self._sample()
        self._pumps = [asyncio.ensure_future(self._pump(self.proc.stdout, "stdout")),
                       asyncio.ensure_future(self._pump(self.proc.stderr, "stderr"))]
        self._sampler = asyncio.ensure_future(self._sampling())

    async def wait(self) -> Exit:
        assert self.proc is not None
        code = await self.proc.wait()
        self._signal_group(signal.SIGKILL)  # children left behind by the leader
        _, pending = await asyncio.wait(self._pumps, timeout=2.0)
        for task in pending:
            task.cancel()
        if self._sampler is not None:
            self._sampler.cancel()
        cpu = round(sum(self._cpu.values()), 3) if self._cpu else None
        rss = round(self._rss, 1) if self._rss else None
        return Exit(code if code >= 0 else 128 - code, cpu, rss)

    async def kill(self, grace: float) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self.proc.wait()

    def _signal_group(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    async def _pump(self, reader: asyncio.StreamReader | None, stream: str) -> None:
        while reader is not None:
            try:
                raw = await reader.readline()
            except ValueError:  # a line longer than the read limit: take what is buffered
                raw = await reader.read(READ_LIMIT)
            if not raw:
                return
            self.shipper.put(stream, raw.decode("utf-8", "replace").rstrip("\r\n"))

    async def _sampling(self) -> None:
        while True:
            await asyncio.sleep(self.sample_s)
            self._sample()

    def _sample(self) -> None:
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        rss = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                self._cpu[proc.pid] = max(self._cpu.get(proc.pid, 0.0), times.user + times.system)
                rss += proc.memory_info().rss / 2**20
        self._rss = max(self._rss, rss)
