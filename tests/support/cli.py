"""Running the `hookmesh` command as a user does: a real process, its output read as it comes."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path


def hookmesh_command() -> list[str]:
    script = Path(sys.executable).parent / "hookmesh"
    return [str(script)] if script.exists() else [sys.executable, "-m", "shared.cli.main"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


async def hookmesh(*args: str, env: dict[str, str] | None = None, stdin: bytes | None = None,
                   timeout: float = 60.0) -> Result:
    process = await asyncio.create_subprocess_exec(
        *hookmesh_command(), *args, env={**os.environ, **(env or {})}, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        process.kill()  # a hung command must not outlive its test
        await process.wait()
        raise AssertionError(f"hookmesh {' '.join(args)} did not finish within {timeout}s") from None
    return Result(process.returncode or 0, out.decode(), err.decode())


@dataclass
class Running:
    """A long-running `hookmesh` process whose combined output is collected line by line."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, *args: str, env: dict[str, str], cwd: Path) -> Running:
        process = await asyncio.create_subprocess_exec(
            *hookmesh_command(), *args, env={**os.environ, **env}, cwd=cwd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        running = cls(process)
        running._reader = asyncio.create_task(running._read())
        return running

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(
                    lambda: any(text in line for line in self.lines) or self.process.returncode is not None),
                    timeout)
            except TimeoutError:
                raise AssertionError(f"no line with {text!r} within {timeout}s; output:\n{self.output}") from None
        found = [line for line in self.lines if text in line]
        assert found, f"process exited ({self.process.returncode}) before printing {text!r}:\n{self.output}"
        return found[0]

    async def wait(self, timeout: float = 30.0) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        if self._reader:
            await self._reader
        return code

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
