"""deploy/Dockerfile: builds this repository's package the way the README installs it, runs it safely."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import pytest
from deploy_facts import DEPLOY, REPO, Instruction, code_env_names, dockerfile, run_words

from shared.settings import DEFAULT_PORTS


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return dockerfile()


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def last_stage(instructions: list[Instruction]) -> list[Instruction]:
    final = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == final]


def args_of(instructions: list[Instruction], keyword: str) -> list[str]:
    return [i.args for i in instructions if i.keyword == keyword]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"exec form expected, got {args}"
    return value


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of(instructions, "ENV"):
        env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    return env


def pip_commands(instructions: list[Instruction]) -> list[list[str]]:
    commands = []
    for run in (i for i in instructions if i.keyword == "RUN"):
        words = run_words(run)
        for start in (n for n, w in enumerate(words) if w == "pip" or w.endswith("/pip")):
            end = next((n for n in range(start, len(words)) if words[n] in ("&&", ";", "||")), len(words))
            commands.append(words[start:end])
    return commands


def test_every_stage_is_python_3_11_slim(instructions: list[Instruction]) -> None:
    defaults = dict(re.findall(r"(\w+)=(\S+)", " ".join(args_of(instructions, "ARG"))))
    bases = [re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], args.split()[0])
             for args in args_of(instructions, "FROM")]
    assert len(bases) >= 2, "multi-stage: a build stage and a runtime stage"
    assert set(bases) == {"python:3.11-slim"}


def test_the_build_stage_makes_a_wheel_of_this_repository(instructions: list[Instruction], pyproject: dict) -> None:
    build = [i for i in instructions if i.stage == 0]
    copied = {src.rstrip("/") for args in args_of(build, "COPY") for src in args.split()[:-1]}
    assert "pyproject.toml" in copied
    packages = {pattern.rstrip("*") for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages <= copied, f"the wheel needs every package of pyproject.toml: {sorted(packages - copied)}"
    assert any(cmd[1] == "wheel" and cmd[-1] == "." for cmd in pip_commands(build)), "pip wheel ... ."


def test_the_runtime_installs_the_package_the_readme_installs(instructions: list[Instruction],
                                                              pyproject: dict) -> None:
    # The README installs with `pip install .`, or through `make` and the Makefile's `pip install -e .`.
    readme = REPO / "README.md"
    how = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if "pip install" not in how:
        how = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install\b[^\n]*\s(-e\s+)?['\"]?\.(\[\w+\])?['\"]?(\s|$)", how, re.MULTILINE)
    installs = [cmd for cmd in pip_commands(last_stage(instructions)) if cmd[1] == "install"]
    assert installs, "the runtime stage pip-installs the wheel"
    assert any(pyproject["project"]["name"] in cmd for cmd in installs), "installs the hookmesh distribution"


def test_no_pip_cache_and_no_bytecode_writes(instructions: list[Instruction]) -> None:
    env = env_of(last_stage(instructions))
    assert env.get("PIP_NO_CACHE_DIR") == "1" or all("--no-cache-dir" in c for c in pip_commands(instructions))
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1", "read-only root: never write .pyc at run time"


def test_runs_as_a_numeric_non_root_user(instructions: list[Instruction]) -> None:
    users = args_of(last_stage(instructions), "USER")
    assert users, "USER in the runtime stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0, "numeric, so runAsNonRoot can verify it"
    assert not gid or (gid.isdigit() and int(gid) > 0)
    created = re.search(r"useradd\b[^&]*--uid (\d+)", " ".join(args_of(instructions, "RUN")))
    assert created and created.group(1) == uid


def test_entrypoint_is_the_console_script(instructions: list[Instruction], pyproject: dict) -> None:
    entrypoint = exec_form(args_of(last_stage(instructions), "ENTRYPOINT")[-1])
    assert entrypoint == ["hookmesh"]
    assert entrypoint[0] in pyproject["project"]["scripts"]


def test_healthcheck_runs_the_python_check_it_copies(instructions: list[Instruction]) -> None:
    final = last_stage(instructions)
    health = args_of(final, "HEALTHCHECK")
    assert len(health) == 1
    command = exec_form(health[0][health[0].index("CMD") + 3:].strip())
    assert command[0] == "python", "no curl in python:3.11-slim"
    copies = {}
    for args in args_of(final, "COPY"):
        words = [w for w in args.split() if not w.startswith("--")]
        copies[words[-1]] = words[0]
    assert command[1] in copies, "the health check script is copied into the image"
    assert (REPO / copies[command[1]]).resolve() == (DEPLOY / "healthcheck.py").resolve()


def test_exposes_the_service_ports(instructions: list[Instruction]) -> None:
    exposed = {int(p.split("/")[0]) for args in args_of(instructions, "EXPOSE") for p in args.split()}
    assert exposed == set(DEFAULT_PORTS.values())


def test_environment_names_are_ones_the_code_reads(instructions: list[Instruction]) -> None:
    env = env_of(last_stage(instructions))
    assert env.get("HOOKMESH_HOST") == "0.0.0.0", "a container must listen beyond its loopback"
    unknown = {name for name in env if name.startswith("HOOKMESH_")} - code_env_names()
    assert not unknown


def test_copied_sources_exist(instructions: list[Instruction]) -> None:
    for args in args_of(instructions, "COPY"):
        if "--from=" in args:
            continue
        for source in [w for w in args.split() if not w.startswith("--")][:-1]:
            if "*" in source:
                continue  # README*: may match nothing, pyproject.toml keeps the COPY valid
            assert Path(REPO / source).exists(), f"COPY {source}: not in the repository"


def test_the_dockerignore_keeps_what_the_build_copies(instructions: list[Instruction]) -> None:
    ignore = DEPLOY / "Dockerfile.dockerignore"
    patterns = [line.strip() for line in ignore.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]
    assert ".venv" in patterns and ".git" in patterns
    for args in args_of(instructions, "COPY"):
        if "--from=" in args:
            continue
        for source in [w for w in args.split() if not w.startswith("--")][:-1]:
            for pattern in patterns:
                assert not fnmatch.fnmatch(source, pattern) and not source.startswith(pattern.rstrip("/") + "/"), (
                    f"{ignore.name} pattern {pattern!r} drops COPY source {source!r}")
