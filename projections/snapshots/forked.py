"""Capturing snapshots in a forked child: the event loop is not held while a large state is pickled.

Pickling the gateway's read models after a million events takes seconds of
CPU; done on the event loop (where the models live) it held every request
that long. `ForkedCapture.start(projections, stream, covered)` forks instead:
the child is a copy-on-write image of the process at that instant — taken
synchronously on the loop, between batches, so no event is half applied —
pickles each projection (`format.capture`) and writes the blobs to a pipe;
the parent goes on serving and applying events at once, and `await
job.result()` collects the blobs (read from the pipe by the loop, never
blocking it). The snapshot is the state at `start`, whatever the parent did
since.

The child touches nothing but the models and the pipe, and leaves with
`os._exit` (no atexit handlers, no inherited buffers flushed, the parent's
sockets untouched). A child that fails reports its error on the pipe
(`SnapshotError` in the parent, with the child's message); one silent for
`timeout` seconds is killed. Where `os.fork` does not exist, `start`
captures in place (the old behaviour).

Pipe format: per projection, `name length (4 bytes) | name | blob length
(8 bytes) | blob`; an error is name `!error` and the message as the blob.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence
from typing import Any

from projections.snapshots.format import capture

_ERROR = "!error"


class SnapshotError(RuntimeError):
    pass


class ForkedCapture:
    def __init__(self, pid: int | None, fd: int | None, blobs: dict[str, bytes] | None, timeout: float,
                 names: Sequence[str] = ()) -> None:
        self.pid = pid
        self.fd = fd
        self.blobs = blobs
        self.timeout = timeout
        self.names = list(names)

    @classmethod
    def start(cls, projections: Sequence[Any], stream: str, covered: int | None, *,
              timeout: float = 600.0) -> ForkedCapture:
        if not hasattr(os, "fork"):
            return cls(None, None, {p.name: capture(p, stream, covered) for p in projections}, timeout)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            _child(projections, stream, covered, write_fd)
        os.close(write_fd)
        return cls(pid, read_fd, None, timeout, [p.name for p in projections])

    async def result(self) -> dict[str, bytes]:
        if self.blobs is not None:
            return self.blobs
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        transport, _ = await loop.connect_read_pipe(lambda: _Collect(done), os.fdopen(self.fd, "rb", buffering=0))
        try:
            data = await asyncio.wait_for(done, self.timeout)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            raise
        finally:
            transport.close()
            status = await loop.run_in_executor(None, os.waitpid, self.pid, 0)
        blobs = _parse(data)
        if _ERROR in blobs:
            raise SnapshotError(f"snapshot capture failed in the child: {blobs[_ERROR].decode(errors='replace')}")
        if os.waitstatus_to_exitcode(status[1]) != 0:
            raise SnapshotError(f"snapshot child ended with status {os.waitstatus_to_exitcode(status[1])}")
        if missing := [name for name in self.names if name not in blobs]:
            raise SnapshotError(f"snapshot child ended without {', '.join(missing)}")
        return blobs


def _child(projections: Sequence[Any], stream: str, covered: int | None, fd: int) -> None:
    code = 0
    try:
        with contextlib.suppress(ValueError):  # not forked from the main thread: there is none to reset
            signal.set_wakeup_fd(-1)  # signals here must not wake the parent's event loop
        with os.fdopen(fd, "wb") as out:
            try:
                for p in projections:
                    _frame(out, p.name, capture(p, stream, covered))
            except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises it
                _frame(out, _ERROR, f"{p.name}: {type(exc).__name__}: {exc}".encode())
                code = 1
    finally:
        os._exit(code)


def _frame(out, name: str, blob: bytes) -> None:
    head = name.encode()
    out.write(len(head).to_bytes(4, "big") + head + len(blob).to_bytes(8, "big"))
    out.write(blob)


def _parse(data: bytes) -> dict[str, bytes]:
    blobs, pos = {}, 0
    while pos < len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        name = data[pos + 4:pos + 4 + size].decode()
        pos += 4 + size
        length = int.from_bytes(data[pos:pos + 8], "big")
        blobs[name] = data[pos + 8:pos + 8 + length]
        if len(blobs[name]) != length:
            raise SnapshotError(f"snapshot of {name} cut short ({len(blobs[name])} of {length} bytes)")
        pos += 8 + length
    return blobs


class _Collect(asyncio.Protocol):
    def __init__(self, done: asyncio.Future[bytes]) -> None:
        self.done = done
        self.parts: list[bytes] = []

    def data_received(self, data: bytes) -> None:
        self.parts.append(data)

    def eof_received(self) -> bool:
        if not self.done.done():
            self.done.set_result(b"".join(self.parts))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(b"".join(self.parts))
