"""Child processes of the benchmark, with their CPU time and RSS read from /proc."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    cpu_mark: float = 0.0
    rss_peak_mb: float = 0.0
    samples: list[float] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _TICKS
        except (OSError, IndexError, ValueError):
            return 0.0

    def rss_mb(self) -> float:
        try:
            for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def mark(self) -> None:
        self.cpu_mark = self.cpu_seconds()

    def cpu_since_mark(self) -> float:
        return self.cpu_seconds() - self.cpu_mark

    def sample(self) -> None:
        rss = self.rss_mb()
        self.rss_peak_mb = max(self.rss_peak_mb, rss)
        self.samples.append(rss)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def spawn(name: str, args: list[str], env: dict[str, str], workdir: Path) -> Proc:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    return Proc(name, popen, log)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


async def wait_http(url: str, timeout: float = 30.0, proc: Proc | None = None) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc is not None and proc.popen.poll() is not None:
                raise SystemExit(f"{proc.name} exited with {proc.popen.returncode}; see {proc.log}")
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout}s" + (f"; see {proc.log}" if proc else ""))
