"""The benchmark run: raw JetStream limit, bare aiohttp ingest, hookmesh end to end, and a fixed rate."""

from __future__ import annotations

import asyncio
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from shared import nats_runtime, subjects
from shared.bench.procs import Proc, python_module, spawn, wait_http
from shared.bench.raw import run_raw
from shared.bench.stats import Result, result
from shared.config import parse_config
from shared.configstore import apply_config
from shared.embedded_nats import EmbeddedNats, free_port
from shared.settings import SERVICES, port_env
from shared.streams import ensure_streams

BENCH_SECRET = "whsec_YmVuY2gtc2lnbmluZy1zZWNyZXQtZm9yLWhvb2ttZXNo"

CONFIG = """
sources:
  - name: bench
    event_type: com.bench.order.created
    schema_version: 1
schemas:
  - type: com.bench.order.created
    version: 1
    schema:
      $schema: https://json-schema.org/draft/2020-12/schema
      type: object
      required: [order_id, total, t]
      properties:
        order_id: {{type: string, minLength: 1}}
        total: {{type: number, minimum: 0}}
        t: {{type: number}}
        pad: {{type: string, maxLength: 1000}}
destinations:
  - name: sink
    url: http://127.0.0.1:{sink_port}/hooks
    secret_env: HOOKMESH_BENCH_SECRET
    max_in_flight: 256
    allow_private_network: true
routes:
  - name: orders
    match: {{type: [com.bench.order.created], data: {{total: [{{numeric: [">=", 0]}}]}}}}
    to: [sink]
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, *, events: int, rate: float, rate_seconds: float, connections: int, workdir: Path,
                 sample_ratio: float, sync_interval: str | None = "1s", soak_seconds: float = 0) -> None:
        self.soak_seconds = soak_seconds
        self.soak: dict[str, Any] = {}
        self.sync_interval = sync_interval
        self.events = events
        self.rate = rate
        self.rate_seconds = rate_seconds
        self.connections = connections
        self.workdir = workdir
        self.sample_ratio = sample_ratio
        self.procs: list[Proc] = []
        self.results: list[Result] = []
        self.resources: dict[str, dict[str, float]] = {}
        self.backlog_peak = 0
        self.up_rss = 0.0

    async def loadgen(self, url: str, name: str, events: int, *, rate: float | None = None) -> Result:
        out = self.workdir / f"{re.sub(r'[^A-Za-z0-9]+', '_', name)}.json"
        args = python_module("shared.bench.loadgen", url, "--events", str(events), "--connections",
                             str(self.connections), "--name", name, "--out", str(out))
        if rate:
            args += ["--rate", str(rate)]
        process = await asyncio.create_subprocess_exec(*args)
        code = await process.wait()
        if code != 0:
            raise SystemExit(f"load generator failed with {code}")
        return msgspec.json.decode(out.read_bytes(), type=Result)

    async def idle_up_rss(self, nats_url: str) -> float:
        """RSS of `hookmesh up` (all five services in one process) once ready and idle, in MB."""
        ports = {s: free_port() for s in SERVICES}
        env = {"NATS_URL": nats_url, **{port_env(s): str(p) for s, p in ports.items()}}
        proc = spawn("up", [*python_module("shared.cli.main"), "up", "--no-demo-sink", "--config",
                            str(self.workdir / "bench.yaml")], env, self.workdir)
        try:
            for service in SERVICES:
                await wait_http(f"http://127.0.0.1:{ports[service]}/readyz", proc=proc, timeout=60)
            await asyncio.sleep(2)  # settle: this is a measurement of idle memory, not synchronisation
            return round(proc.rss_mb(), 1)
        finally:
            proc.stop()

    async def run(self) -> dict[str, Any]:
        server = EmbeddedNats(self.workdir / "nats", port=free_port(), sync_interval=self.sync_interval)
        await server.astart()
        try:
            log("(a) raw JetStream limit ...")
            self.results.append(await run_raw(server.url, max(self.events * 4, 20_000)))
            log("(b) bare aiohttp ingest publishing to JetStream ...")
            self.results.append(await self.baseline(server.url))
            log("(c) hookmesh end to end ...")
            await self.hookmesh(server.url)
            log("idle RSS of hookmesh up ...")
            self.up_rss = await self.idle_up_rss(server.url)
        finally:
            for proc in self.procs:
                proc.stop()
            await asyncio.to_thread(server.stop)
        return self.report()

    async def baseline(self, nats_url: str) -> Result:
        port = free_port()
        proc = spawn("baseline", python_module("shared.bench.baseline", str(port), nats_url), {}, self.workdir)
        self.procs.append(proc)
        await wait_http(f"http://127.0.0.1:{port}/", proc=proc)
        url = f"http://127.0.0.1:{port}/ingest"
        await self.loadgen(url, "warmup", 1000)
        measured = await self.loadgen(url, "bare aiohttp ingest -> JetStream", self.events)
        proc.stop()
        return measured

    async def hookmesh(self, nats_url: str) -> None:
        sink_port = free_port()
        ports = {s: free_port() for s in SERVICES}
        nc = await nats_runtime.connect(nats_url, "bench")
        await ensure_streams(nc.jetstream())
        text = CONFIG.format(sink_port=sink_port)
        (self.workdir / "bench.yaml").write_text(text)
        await apply_config(nc.jetstream(), parse_config(text, file="bench.yaml"))
        otlp = await _discarding_otlp_receiver()
        env = {"NATS_URL": nats_url, "HOOKMESH_BENCH_SECRET": BENCH_SECRET, "HOOKMESH_LOG_LEVEL": "WARNING",
               "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(self.sample_ratio),
               "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
               **{port_env(s): str(p) for s, p in ports.items()}}
        sink = spawn("sink", python_module("shared.bench.sink", str(sink_port)), {}, self.workdir)
        ingress = f"http://127.0.0.1:{ports['ingress']}/v1/hooks/bench"
        # Ingress alone first (nothing consumes yet), the same work as the bare baseline: HTTP in, 202 after ack.
        first = spawn("ingress", [*python_module("shared.cli.main"), "run", "ingress"], env, self.workdir)
        self.procs.append(first)
        await wait_http(f"http://127.0.0.1:{ports['ingress']}/readyz", proc=first, timeout=60)
        await self.loadgen(ingress, "warmup", 1000)
        self.results.append(await self.loadgen(ingress, "hookmesh ingress alone (202 after ack)", self.events))
        others = [spawn(s, [*python_module("shared.cli.main"), "run", s], env, self.workdir)
                  for s in SERVICES if s != "ingress"]
        services = [first, *others]
        self.procs += [sink, *others]
        for proc in services:
            await wait_http(f"http://127.0.0.1:{ports[proc.name]}/readyz", proc=proc, timeout=60)
        await wait_http(f"http://127.0.0.1:{sink_port}/stats", proc=sink)
        stats_url = f"http://127.0.0.1:{sink_port}/stats"
        async with aiohttp.ClientSession() as http:
            # Everything ingress stored while alone (warm-up included) is delivered before anything is timed.
            await _wait_count(http, stats_url, self.events + 1000, timeout=600)
            await http.post(f"http://127.0.0.1:{sink_port}/reset")
            for proc in services:
                proc.mark()
                proc.sample()

            started = time.perf_counter()
            watcher = asyncio.create_task(self._watch_backlog(nc, services))
            ingest = await self.loadgen(ingress, "hookmesh ingress, full pipeline running", self.events)
            await _wait_count(http, stats_url, self.events, timeout=600)
            elapsed = time.perf_counter() - started
            watcher.cancel()
            stats = await _stats(http, stats_url)
            cpu = {p.name: round(p.cpu_since_mark(), 2) for p in services}
            self.results.append(ingest)
            self.results.append(result("hookmesh end to end (HTTP in -> HTTP out)", self.events, elapsed,
                                       stats["latencies"],
                                       note=f"duplicates {stats['duplicates']}, backlog peak {self.backlog_peak}"))

            await http.post(f"http://127.0.0.1:{sink_port}/reset")
            events = int(self.rate * self.rate_seconds)
            log(f"(c) hookmesh at a fixed {self.rate:.0f} events/s for {self.rate_seconds:.0f}s ...")
            fixed = await self.loadgen(ingress, f"hookmesh ingress at {self.rate:.0f}/s", events, rate=self.rate)
            await _wait_count(http, stats_url, events, timeout=300)
            stats = await _stats(http, stats_url)
            self.results.append(fixed)
            self.results.append(result(f"hookmesh end to end at {self.rate:.0f}/s", events, fixed.seconds,
                                       stats["latencies"]))
            for proc in services:
                proc.sample()
            if self.soak_seconds:
                await self._soak(http, ingress, stats_url, services)
            self.resources = {p.name: {"cpu_s_max_run": cpu[p.name], "rss_mb": round(p.rss_mb(), 1),
                                       "rss_peak_mb": round(p.rss_peak_mb, 1)} for p in services}
        await otlp.close()
        await nc.close()

    async def _soak(self, http: aiohttp.ClientSession, ingress: str, stats_url: str, services: list[Proc]) -> None:
        """A long fixed-rate run; every service's RSS is sampled, and growth from the first minute to the end
        is reported (the first minute holds warm-up allocations)."""
        await http.post(stats_url.replace("/stats", "/reset"))
        events = int(self.rate * self.soak_seconds)
        log(f"soak: {self.rate:.0f} events/s for {self.soak_seconds:.0f}s ...")
        samples: dict[str, list[tuple[float, float]]] = {p.name: [] for p in services}
        started = time.monotonic()

        async def sample() -> None:
            while True:
                for proc in services:
                    proc.sample()
                    samples[proc.name].append((time.monotonic() - started, proc.samples[-1]))
                await asyncio.sleep(15)

        sampler = asyncio.create_task(sample())
        run = await self.loadgen(ingress, "soak", events, rate=self.rate)
        await _wait_count(http, stats_url, events, timeout=600)
        sampler.cancel()
        stats = await _stats(http, stats_url)
        self.soak = {
            "seconds": self.soak_seconds, "rate": self.rate, "events": events, "errors": run.errors,
            "delivered": stats["unique"], "p50_ms": round(stats["p50_ms"], 2), "p99_ms": round(stats["p99_ms"], 2),
            "rss_mb": {name: {"after_1min": next((r for t, r in points if t >= 60), points[0][1]),
                              "end": points[-1][1],
                              "growth": round(points[-1][1] - next((r for t, r in points if t >= 60), points[0][1]),
                                              1)}
                       for name, points in samples.items() if points},
        }

    async def _watch_backlog(self, nc: Any, services: list[Proc]) -> None:
        js = nc.jetstream()
        consumers = [(subjects.INGRESS_STREAM, subjects.VALIDATION_CONSUMER),
                     (subjects.EVENTS_STREAM, subjects.ROUTING_CONSUMER),
                     (subjects.DELIVER_STREAM, subjects.delivery_consumer("sink"))]
        while True:
            total = 0
            for stream, durable in consumers:
                info = await js.consumer_info(stream, durable)
                total += info.num_pending + info.num_ack_pending
            self.backlog_peak = max(self.backlog_peak, total)
            for proc in services:
                proc.sample()
            await asyncio.sleep(0.5)

    def report(self) -> dict[str, Any]:
        by_name = {r.name: r for r in self.results}
        raw = self.results[0]
        baseline = self.results[1]
        e2e = next(r for r in self.results if r.name.startswith("hookmesh end to end (HTTP"))
        ingress = next(r for r in self.results if r.name.startswith("hookmesh ingress alone"))
        return {
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "processor": platform.processor() or platform.machine()},
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": {"events": self.events, "connections": self.connections, "rate": self.rate,
                         "trace_sample_ratio": self.sample_ratio, "sync_interval": self.sync_interval},
            "results": [msgspec.to_builtins(r) for r in by_name.values()],
            "ratios": {"end_to_end_vs_raw": round(e2e.events_per_s / raw.events_per_s, 3),
                       "ingress_vs_bare_aiohttp": round(ingress.events_per_s / baseline.events_per_s, 3)},
            "processes": self.resources,
            "hookmesh_up_idle_rss_mb": self.up_rss,
            "soak": self.soak,
        }


class _Otlp:
    def __init__(self, runner: Any, url: str) -> None:
        self.runner = runner
        self.url = url

    async def close(self) -> None:
        await self.runner.cleanup()


async def _discarding_otlp_receiver() -> _Otlp:
    """An OTLP/HTTP endpoint that accepts and drops spans: exporting costs what it costs, without Jaeger."""
    from aiohttp import web

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return _Otlp(runner, f"http://127.0.0.1:{port}")


async def _stats(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url + "?all=1") as resp:
        return await resp.json()


async def _wait_count(http: aiohttp.ClientSession, url: str, count: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        async with http.get(url) as resp:
            got = (await resp.json())["unique"]
        if got >= count:
            return
        if got != last:
            print(f"\r  delivered {got}/{count}", end="", file=sys.stderr, flush=True)
            last = got
        await asyncio.sleep(0.2)
    raise SystemExit(f"only {last} of {count} events were delivered within {timeout}s")


def temp_workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="hookmesh-bench-"))
