"""Bad destinations: one that flaps (fails for a few seconds, then recovers) loses nothing and costs a bounded
number of attempts, because its breaker opens and closes; one that hangs has its requests timed out while
another destination of the same events keeps its latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from shared.embedded_nats import free_port
from tests.support.http import serve
from tests.support.load import LoadDriver, dead_letter_event_ids, tally, undelivered
from tests.support.mesh import config_yaml
from tests.support.natsserver import NatsServer
from tests.support.polling import eventually
from tests.support.processes import HookmeshProcess, run_up, service_env, service_ports
from tests.support.sink import RecordingSink

pytestmark = pytest.mark.faults
FLAP_SECONDS = 4.0
MAX_ATTEMPTS = 20


async def metric(url: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus metric from a /metrics page (0 when absent)."""
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(w in line for w in wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def start_up(nats_server: NatsServer, config: str, tmp_path: Path) -> tuple[HookmeshProcess, dict[str, int]]:
    path = tmp_path / "hookmesh.yaml"
    path.write_text(config)
    ports = service_ports()
    up = run_up(path, tmp_path / "data", 0, service_env(nats_server.url, ports), tmp_path)
    await up.start()
    return up, ports


async def test_flapping_destination_opens_and_closes_its_breaker_and_loses_nothing(
        nats_server: NatsServer, sink: RecordingSink, sink_secret: str, tmp_path: Path) -> None:
    config = config_yaml(sink.url, retry=f"{{max_attempts: {MAX_ATTEMPTS}, initial: 100ms, max: 500ms}}")
    config = config.replace("    allow_private_network: true\n", "    allow_private_network: true\n"
                            "    breaker: {consecutive_failures: 5, min_attempts: 5, window: 10s, cooldown: 1s}\n")
    up, ports = await start_up(nats_server, config, tmp_path)
    delivery = f"http://127.0.0.1:{ports['delivery']}"
    try:
        load = LoadDriver(f"http://127.0.0.1:{ports['ingress']}/v1/hooks/shop", events=900, rate=150).start()
        await eventually(lambda: len(sink.succeeded()) >= 100, timeout=20, what="deliveries before the flap")
        sink.default_status = 503
        flap_started = time.monotonic()
        await eventually(lambda: metric(delivery, "hookmesh_destination_breaker_transitions_total",
                                        destination="sink", to="open"), timeout=10, what="the breaker to open")
        await asyncio.sleep(max(0.0, FLAP_SECONDS - (time.monotonic() - flap_started)))  # the fault's length
        sink.default_status = 204
        recovered = time.monotonic()
        failures = len(sink.received) - len(sink.succeeded())
        await eventually(lambda: metric(delivery, "hookmesh_destination_breaker_transitions_total",
                                        destination="sink", to="closed"), timeout=15, what="the breaker to close")
        closed_s = time.monotonic() - recovered
        await load.finished(timeout=60)
        await eventually(lambda: not undelivered(load, sink), timeout=60, interval=0.2,
                         what="every accepted event delivered")
        figures = tally(load, sink, recover_s=closed_s)
        attempts = len(sink.received)
        failed = attempts - len(sink.succeeded())
        figures.print("flapping destination", flap_s=FLAP_SECONDS, attempts=attempts, failed_attempts=failed,
                      failed_during_flap=failures)
        assert figures.lost == 0 and figures.foreign_ids == 0
        assert figures.accepted == load.sent
        assert await dead_letter_event_ids(f"http://127.0.0.1:{ports['deadletter']}") == []
        # Without the breaker ~600 events would each be retried every <= 0.5 s for 4 s (thousands of failed
        # attempts); with it, a handful open it, the held in-flight ones fail once, then one probe a second.
        assert failed <= 80, failed
        assert figures.duplicates == 0
    finally:
        up.stop()


class HangingSink:
    """A destination that never answers (until the test ends): every request is held open."""

    def __init__(self) -> None:
        self.port = free_port()
        self.requests = 0
        self.release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        await self.release.wait()
        return web.Response(status=503)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = await serve(app, self.port, shutdown_timeout=1.0)

    async def stop(self) -> None:
        self.release.set()
        if self._runner:
            await self._runner.cleanup()


@pytest.fixture
async def hanging() -> AsyncIterator[HangingSink]:
    sink = HangingSink()
    await sink.start()
    yield sink
    await sink.stop()


async def _has_destination(ports: dict[str, int], name: str) -> bool:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{ports['delivery']}/metrics") as resp:
        return f'hookmesh_destination_breaker_state{{destination="{name}"}}' in await resp.text()


def latency_ms(load: LoadDriver, sink: RecordingSink) -> tuple[float, float]:
    """p50 and p99, in ms, from each accepted POST's start to its arrival at the sink."""
    latencies = [r.at - load.posted_at[r.headers["webhook-id"]] for r in sink.succeeded()
                 if r.headers.get("webhook-id") in load.posted_at]
    return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_hanging_destination_times_out_and_does_not_slow_the_others(
        nats_server: NatsServer, sink: RecordingSink, hanging: HangingSink, sink_secret: str,
        tmp_path: Path) -> None:
    healthy_only = config_yaml(sink.url)
    config = healthy_only.replace("    to: [sink]", "    to: [sink, stuck]")
    config = config.replace("routes:\n", f"""  - name: stuck
    url: {hanging.url}
    timeout: 300ms
    max_in_flight: 64
    retry: {{max_attempts: 2, initial: 100ms, max: 100ms}}
    breaker: {{enabled: false}}
    allow_private_network: true
routes:
""")
    # The control: a second hookmesh on its own NATS, with the healthy destination alone, under the same load
    # at the same time. Whatever else loads the machine meanwhile slows both alike, so comparing the two is
    # fair where a baseline taken a minute earlier is not.
    control_dir = tmp_path / "control"
    control_dir.mkdir()
    control_nats, control_sink = NatsServer(control_dir / "nats"), RecordingSink()
    up = control = None
    try:
        control_nats.start()
        await control_sink.start()
        up, ports = await start_up(nats_server, config, tmp_path)
        control, control_ports = await start_up(control_nats, config_yaml(control_sink.url), control_dir)
        ingress = f"http://127.0.0.1:{ports['ingress']}/v1/hooks/shop"
        await eventually(lambda: _has_destination(ports, "stuck"), timeout=15,
                         what="delivery to run the hanging destination")
        load = LoadDriver(ingress, events=450, rate=150).start()
        control_load = LoadDriver(f"http://127.0.0.1:{control_ports['ingress']}/v1/hooks/shop", events=450,
                                  rate=150).start()
        await asyncio.gather(load.finished(timeout=60), control_load.finished(timeout=60))
        await eventually(lambda: not undelivered(load, sink), timeout=30, interval=0.1,
                         what="every accepted event delivered to the healthy destination")
        await eventually(lambda: not undelivered(control_load, control_sink), timeout=30, interval=0.1,
                         what="every accepted event delivered by the control")
        p50, p99 = latency_ms(load, sink)
        _, base_p99 = latency_ms(control_load, control_sink)

        async def exhausted() -> list[str]:
            ids = await dead_letter_event_ids(f"http://127.0.0.1:{ports['deadletter']}", reason="delivery_exhausted")
            return ids if len(ids) >= 50 else []

        dead = await eventually(exhausted, timeout=30, interval=0.5, what="hung deliveries to be dead-lettered")
        figures = tally(load, sink)
        figures.print("hanging destination", control_p99_ms=round(base_p99, 1), healthy_p50_ms=round(p50, 1),
                      healthy_p99_ms=round(p99, 1),
                      hung_attempts=hanging.requests, hung_dead_lettered=len(dead))
        assert figures.lost == 0 and figures.foreign_ids == 0 and figures.duplicates == 0
        assert set(dead) <= set(load.accepted)
        assert hanging.requests >= 100  # timeouts fired: each hung attempt was given up and retried
        # Isolation: the healthy destination's p99 stays near the control's (same machine, same seconds),
        # far from what waiting behind 300 ms timeouts would cost.
        assert p99 <= max(3 * base_p99, 250), f"healthy p99 {p99:.0f} ms vs {base_p99:.0f} ms in the control"
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{ports['deadletter']}/v1/dead-letters",
                params={"reason": "delivery_exhausted", "limit": "1"}) as resp:
            letter = (await resp.json())["items"][0]
        assert letter["destination"] == "stuck"
        assert len(letter["history"]) == 2, letter["history"]
        for attempt in letter["history"]:  # each attempt was cut at the destination's 300 ms timeout
            assert "timeout" in attempt["error"] and 290 <= attempt["latency_ms"] < 1500, attempt
    finally:
        for process in (up, control):
            if process is not None:
                process.stop()
        await control_sink.stop()
        control_nats.stop()
