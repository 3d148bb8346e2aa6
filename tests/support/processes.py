"""`hookmesh run <service>` and `hookmesh up` as real child processes, for fault tests: start, wait until
ready, kill -9, SIGTERM, restart, read their log and RSS. Only the processes started here are signalled."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from shared.embedded_nats import free_port, port_open
from shared.settings import SERVICES, port_env
from tests.support.cli import hookmesh_command
from tests.support.polling import eventually


def service_ports() -> dict[str, int]:
    return {name: free_port() for name in SERVICES}


def service_env(nats_url: str | None, ports: dict[str, int], **extra: str) -> dict[str, str]:
    """The environment of a hookmesh process: its NATS, every service's port, a short drain, JSON logs."""
    env = {port_env(name): str(port) for name, port in ports.items()}
    env.update({"HOOKMESH_DRAIN_GRACE_SECONDS": "5", "HOOKMESH_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    if nats_url:
        env["NATS_URL"] = nats_url
    env.update(extra)
    return env


@dataclass
class HookmeshProcess:
    """One `hookmesh ...` command as a child process; its combined output goes to `log`."""

    args: list[str]
    env: dict[str, str]
    log: Path
    ready_ports: list[int]
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    pids: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join(self.args)

    def spawn(self) -> None:
        assert self.popen is None or self.popen.poll() is not None, f"{self.name} is still running"
        base = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "NATS_URL"}
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen([*hookmesh_command(), *self.args], env={**base, **self.env},
                                          stdout=out, stderr=subprocess.STDOUT, cwd=self.cwd,
                                          start_new_session=True)
        self.starts += 1
        self.pids.append(self.popen.pid)

    async def ready(self, timeout: float = 45.0) -> None:
        """Every port in `ready_ports` answers GET /readyz with 200."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            async def all_ready() -> bool:
                assert self.popen is not None
                if self.popen.poll() is not None:
                    raise AssertionError(f"{self.name} exited with {self.popen.returncode}:\n{self.tail()}")
                for port in self.ready_ports:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                            if resp.status != 200:
                                return False
                    except (aiohttp.ClientError, TimeoutError):
                        return False
                return True

            try:
                await eventually(all_ready, timeout=timeout, interval=0.1, what=f"{self.name} to be ready")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{self.tail()}") from None

    async def start(self, timeout: float = 45.0) -> None:
        self.spawn()
        await self.ready(timeout)

    def kill9(self) -> None:
        """SIGKILL, no drain, and reap it."""
        assert self.popen is not None and self.popen.poll() is None, f"{self.name} is not running"
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def sigterm(self) -> None:
        assert self.popen is not None and self.popen.poll() is None, f"{self.name} is not running"
        self.popen.send_signal(signal.SIGTERM)

    async def exited(self, timeout: float) -> int:
        """Wait for the process to exit; its exit code."""
        assert self.popen is not None
        popen = self.popen
        code = await eventually(lambda: popen.poll() is not None, timeout=timeout, interval=0.05,
                                what=f"{self.name} to exit")
        assert code
        return int(popen.returncode)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        """Cleanup: SIGTERM, then SIGKILL if it lingers."""
        if not self.running():
            return
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def rss_kib(self) -> int:
        assert self.popen is not None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def run_service(name: str, env: dict[str, str], workdir: Path) -> HookmeshProcess:
    port = int(env[port_env(name)])
    return HookmeshProcess(["run", name], env, workdir / f"{name}.log", [port])


def run_up(config: Path, data_dir: Path, nats_port: int, env: dict[str, str], workdir: Path) -> HookmeshProcess:
    ports = [int(env[port_env(name)]) for name in SERVICES]
    return HookmeshProcess(["up", "--config", str(config), "--data-dir", str(data_dir), "--nats-port",
                            str(nats_port), "--no-demo-sink"], env, workdir / "up.log", ports)


async def port_closed(port: int, timeout: float = 15.0) -> None:
    await eventually(lambda: not port_open("127.0.0.1", port), timeout=timeout, what=f"port {port} to close")


class ServiceSet:
    """The five services, each `hookmesh run <name>`, against one NATS URL."""

    def __init__(self, nats_url: str, workdir: Path, *, per_service: dict[str, dict[str, str]] | None = None,
                 **extra_env: str) -> None:
        """`per_service`: more environment for one service (its own NATS user, say)."""
        self.ports = service_ports()
        self.env = service_env(nats_url, self.ports, **extra_env)
        self.procs = {name: run_service(name, {**self.env, **(per_service or {}).get(name, {})}, workdir)
                      for name in SERVICES}

    async def start(self) -> None:
        started = time.monotonic()
        for proc in self.procs.values():
            proc.spawn()
        for proc in self.procs.values():
            await proc.ready(timeout=max(10.0, 60.0 - (time.monotonic() - started)))

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.stop()
