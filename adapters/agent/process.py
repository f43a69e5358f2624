"""The engine child process: stopped with grace, never left behind.

- `start(argv, env)` spawns the engine in the agent's own process group, so a
  backend that kills the replica job's group (adapters/local/process.py)
  reaches the engine too. On Linux the engine also gets a parent-death signal
  (SIGTERM when the agent dies, even by SIGKILL), so an agent killed alone
  does not leave an engine holding a GPU or a port. Its stdout/stderr are the
  agent's own: the backend ships them as the replica job's log.
- `stop(grace)` sends SIGTERM to the engine, waits up to `grace` seconds, then
  SIGKILLs it and every process it started (vLLM forks workers), as found
  when the stop began.
- `returncode` is None while it runs, else its exit code (128 + signal for a
  signal, as a shell reports it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import sys

import psutil

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class EngineProcess:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, env: dict[str, str] | None = None) -> None:
        """Raises OSError when the program cannot be started (not found, not executable)."""
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=env, stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def returncode(self) -> int | None:
        if self.proc is None or self.proc.returncode is None:
            return None
        code = self.proc.returncode
        return code if code >= 0 else 128 - code

    async def wait(self) -> int:
        assert self.proc is not None
        await self.proc.wait()
        return self.returncode  # type: ignore[return-value]

    async def stop(self, grace: float) -> None:
        if self.proc is None:
            return
        tree = self._tree()
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace)
        for proc in tree:  # workers left behind, or everything past the grace
            with contextlib.suppress(psutil.Error):
                proc.kill()
        await self.proc.wait()

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [*root.children(recursive=True), root]
        except psutil.Error:
            return []
