"""One service's lifecycle: HTTP (ops endpoints + the service's routes), NATS, config, drain.

Every service has the same shape: a class with `name`, `http_routes()`, `start(ctx)`, `stop(grace)`
and `readiness()`. The host gives it a ServiceContext and runs it alone (`hookmesh run`) or beside
the others in one process (`hookmesh up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from opentelemetry.trace import Tracer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shared import nats_runtime, tracing
from shared.configstore import ConfigStore
from shared.deadletters import DeadLetterWriter
from shared.errors import Unauthorized, Unavailable
from shared.metrics import StageMetrics, new_registry
from shared.nats_runtime import Publisher
from shared.problems import json_response, problem_middleware
from shared.settings import Settings
from shared.streams import wait_for_streams
from shared.subjects import service_inbox

log = logging.getLogger("hookmesh.host")


@dataclass
class ServiceContext:
    name: str
    settings: Settings
    nc: NATS
    js: JetStreamContext
    tracer: Tracer
    registry: CollectorRegistry
    metrics: StageMetrics
    config: ConfigStore
    publisher: Publisher
    dead_letters: DeadLetterWriter


class Service(Protocol):
    name: str

    def http_routes(self) -> list[web.RouteDef]: ...

    async def start(self, ctx: ServiceContext) -> None: ...

    async def stop(self, grace: float) -> None: ...

    def readiness(self) -> dict[str, Any]: ...


class ServiceHost:
    def __init__(self, service: Service, settings: Settings, *, admin_api: bool = False) -> None:
        self.service = service
        self.settings = settings
        self.name = service.name
        self.admin_api = admin_api
        self.registry = new_registry()
        self.metrics = StageMetrics(self.registry, self.name)
        self.tracer = tracing.tracer_for(self.name)
        self.nc: NATS | None = None
        self.publisher: Publisher | None = None
        self.config: ConfigStore | None = None
        self.started = False
        self.stopping = False
        self.startup_error = ""
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()
        self.port = settings.ports[self.name]

    # -------------------------------------------------------------------------------------- HTTP

    def _bind_host(self) -> str:
        # Without an admin token the dead-letter API must not be reachable from other machines.
        if self.admin_api and not self.settings.admin_token:
            return "127.0.0.1"
        return self.settings.host

    def build_app(self) -> web.Application:
        middlewares = [problem_middleware]
        if self.admin_api and self.settings.admin_token:
            middlewares.append(_admin_auth(self.settings.admin_token))
        middlewares.append(self._until_started)
        app = web.Application(middlewares=middlewares, client_max_size=self.settings.max_body_bytes + 1024)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        app.add_routes(self.service.http_routes())
        return app

    @web.middleware
    async def _until_started(self, request: web.Request, handler: Any) -> web.StreamResponse:
        # The port listens before NATS is connected and the service started (so /readyz can say why it
        # is not ready); until then the service's own routes answer 503, not a 500 from a half-built service.
        if not self.started and request.path not in ("/healthz", "/readyz", "/metrics"):
            raise Unavailable(f"{self.name} is starting; retry shortly", headers={"Retry-After": "1"})
        return await handler(request)

    async def _healthz(self, request: web.Request) -> web.Response:
        return json_response({"status": "ok", "service": self.name})

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {
            "nats_connected": bool(self.nc and self.nc.is_connected),
            "config_loaded": bool(self.config and self.config.loaded.is_set()),
            "started": self.started,
            "draining": self.stopping,
        }
        if self.started:
            checks.update(self.service.readiness())
        ok = all(v for k, v in checks.items() if isinstance(v, bool) and k != "draining") and not self.stopping
        if self.startup_error:
            checks["error"] = self.startup_error
        return ok, checks

    async def _readyz(self, request: web.Request) -> web.Response:
        ok, checks = self.readiness()
        return json_response({"ready": ok, "service": self.name, "checks": checks}, status=200 if ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        self.metrics.nats_connected.labels(self.name).set(1 if self.nc and self.nc.is_connected else 0)
        await self._read_backlog()
        if self.config:
            self.metrics.config_revision.labels(self.name).set(self.config.snapshot.revision)
        return web.Response(body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _read_backlog(self) -> None:
        """Consumer backlog straight from JetStream, so the numbers are right even across replicas."""
        if not (self.started and self.nc and self.nc.is_connected):
            return
        js = self.nc.jetstream(timeout=2.0)
        for consumer in getattr(self.service, "pull_consumers", list)():
            try:
                info = await js.consumer_info(consumer.stream, consumer.durable)
            except Exception as exc:
                log.debug("could not read consumer %s: %s", consumer.durable, exc)
                continue
            labels = (consumer.stream, consumer.durable)
            self.metrics.backlog.labels(*labels).set(info.num_pending or 0)
            self.metrics.ack_pending.labels(*labels).set(info.num_ack_pending or 0)
            self.metrics.redelivered.labels(*labels).set(info.num_redelivered or 0)

    # -------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = self.build_app()
        # Bounded: with uvloop, a keep-alive connection busy with a request at shutdown can otherwise hold
        # cleanup for aiohttp's default 60 s, far past the drain grace (found by tests/faults).
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._bind_host(), self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise SystemExit(f"{self.name}: cannot listen on {self._bind_host()}:{self.port} ({exc.strerror}); "
                             f"set HOOKMESH_{self.name.upper()}_PORT to a free port") from None
        if self.port == 0:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

        def connection_changed(connected: bool) -> None:
            if connected and self.started:
                for consumer in getattr(self.service, "pull_consumers", lambda: [])():
                    consumer.reset_credits()

        self.nc = await nats_runtime.connect_with_retry(self.settings.nats_url, self.name,
                                                        on_change=connection_changed, stop=self._stop,
                                                        inbox_prefix=service_inbox(self.name))
        js = self.nc.jetstream(timeout=self.settings.publish_timeout)
        await wait_for_streams(js, stop=self._stop)
        self.config = ConfigStore(js)
        await self.config.start()
        await self.config.loaded.wait()
        publisher = self.publisher = Publisher(self.nc, self.tracer, self.metrics,
                                               timeout=self.settings.publish_timeout)
        ctx = ServiceContext(
            name=self.name, settings=self.settings, nc=self.nc, js=js, tracer=self.tracer,
            registry=self.registry, metrics=self.metrics, config=self.config, publisher=publisher,
            dead_letters=DeadLetterWriter(publisher, self.name))
        await self.service.start(ctx)
        self.started = True
        log.info("%s ready on http://%s:%s", self.name, self._bind_host(), self.port)

    async def stop(self, grace: float | None = None) -> None:
        """Graceful drain: refuse new work, finish or hand back in-flight messages, flush, close."""
        if self.stopping:
            return
        self.stopping = True
        self._stop.set()
        grace = self.settings.drain_grace if grace is None else grace
        started = time.monotonic()
        # HTTP first, while NATS is still up: stop listening, and let requests in flight (an ingress request
        # waiting for its JetStream ack) finish with their answer rather than lose it.
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        with contextlib.suppress(Exception):
            await self.service.stop(grace)
        if self.config:
            await self.config.stop()
        if self.publisher is not None:
            await self.publisher.close()
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.nc.drain(), timeout=5)
            with contextlib.suppress(Exception):
                await self.nc.close()
        log.info("%s stopped after %.1fs of drain", self.name, time.monotonic() - started)


def _admin_auth(token: str) -> Any:
    expected = f"Bearer {token}".encode()
    open_paths = {"/healthz", "/readyz", "/metrics"}

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path not in open_paths:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise Unauthorized("this admin API needs Authorization: Bearer $HOOKMESH_ADMIN_TOKEN",
                                   headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return middleware
