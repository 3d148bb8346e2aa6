"""CPU per event of validation, routing and delivery alone: no HTTP ingress, no load generator process.

Events are published straight into the ingress stream (as ingress would), so what is measured is the
three consumer stages and nothing else; far less noisy than the full bench for A/B comparisons.

    python -m shared.bench.stages [--events N] [--rate R] [--rounds K]

Without --rate every round is a burst (throughput mode); with it, events are published at R/s, so
each stage handles them one by one as in the fixed-rate latency run. The first round is a warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import msgspec
from nats.js import JetStreamContext

from shared import nats_runtime, subjects, tracing
from shared.bench.procs import Proc, python_module, spawn, wait_http
from shared.bench.runner import BENCH_SECRET, CONFIG, _discarding_otlp_receiver, temp_workdir
from shared.config import parse_config
from shared.configstore import apply_config
from shared.embedded_nats import EmbeddedNats, free_port
from shared.envelope import new_event, new_event_id, now_rfc3339, schema_uri, source_uri
from shared.metrics import StageMetrics, new_registry
from shared.settings import port_env
from shared.streams import ensure_streams

STAGES = ("validation", "routing", "delivery")
PAD = "x" * 120


async def _drained(js: JetStreamContext, stream: str, durable: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.consumer_info(stream, durable)
        if info.num_pending == 0 and info.num_ack_pending == 0:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"{durable} did not drain within {timeout}s")


async def run(events: int, rate: float | None, rounds: int, sample: float) -> None:
    workdir = temp_workdir()
    server = EmbeddedNats(workdir / "nats", port=free_port(), sync_interval="1s")
    await server.astart()
    procs: list[Proc] = []
    try:
        sink_port = free_port()
        ports = {s: free_port() for s in STAGES}
        nc = await nats_runtime.connect(server.url, "bench-stages")
        js = nc.jetstream()
        await ensure_streams(js)
        await apply_config(js, parse_config(CONFIG.format(sink_port=sink_port), file="bench.yaml"))
        otlp = await _discarding_otlp_receiver()
        env = {"NATS_URL": server.url, "HOOKMESH_BENCH_SECRET": BENCH_SECRET, "HOOKMESH_LOG_LEVEL": "WARNING",
               "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": str(sample),
               "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
               **{port_env(s): str(p) for s, p in ports.items()}}
        publisher = nats_runtime.Publisher(nc, tracing.tracer_for("bench-stages"),
                                           StageMetrics(new_registry(), "bench-stages"))

        async def publish(i: int) -> None:
            data = msgspec.json.encode({"order_id": f"B-{i}", "total": 50 + i % 200, "t": time.time(), "pad": PAD})
            event = new_event(id=new_event_id(), source=source_uri("bench"), type="com.bench.order.created",
                              time=now_rfc3339(), datacontenttype="application/json",
                              dataschema=schema_uri("com.bench.order.created", 1), data=msgspec.Raw(data))
            await publisher.publish_event(subjects.ingress("bench"), event, msg_id=event.id,
                                          stream=subjects.INGRESS_STREAM)

        sink = spawn("sink", python_module("shared.bench.sink", str(sink_port)), {}, workdir)
        procs.append(sink)
        services = [spawn(s, [*python_module("shared.cli.main"), "run", s], env, workdir) for s in STAGES]
        procs += services
        await wait_http(f"http://127.0.0.1:{sink_port}/stats", proc=sink)
        for proc in services:
            await wait_http(f"http://127.0.0.1:{ports[proc.name]}/readyz", proc=proc, timeout=60)
        for number in range(rounds):
            for proc in services:
                proc.mark()
            started = time.perf_counter()
            if rate and number:
                tasks = []
                for i in range(events):
                    delay = started + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(publish(i)))
                await asyncio.gather(*tasks)
            else:
                for first in range(0, events, 500):
                    await asyncio.gather(*(publish(i) for i in range(first, min(events, first + 500))))
            await _drained(js, subjects.DELIVER_STREAM, subjects.delivery_consumer("sink"))
            elapsed = time.perf_counter() - started
            figures = "  ".join(f"{p.name} {p.cpu_since_mark() / events * 1e6:.0f}" for p in services)
            label = "warm-up" if number == 0 else f"round {number}"
            print(f"{label}: CPU us/event {figures}  ({events / elapsed:,.0f} events/s)", flush=True)
        await publisher.close()
        await otlp.close()
        await nc.close()
    finally:
        for proc in procs:
            proc.stop()
        await asyncio.to_thread(server.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=None, help="publish at this rate (default: a burst)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the first a warm-up (default 3)")
    parser.add_argument("--sample", type=float, default=0.01, help="trace sampling ratio (default 0.01)")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.run(run(args.events, args.rate, args.rounds, args.sample))
    except ImportError:
        asyncio.run(run(args.events, args.rate, args.rounds, args.sample))


if __name__ == "__main__":
    main()
