"""Provisioning of the four streams and the KV buckets: create, or update in place; never destroy."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, RetentionPolicy, StorageType, StreamConfig

from shared import subjects
from shared.settings import dlq_max_age_from_env, dlq_max_msgs_from_env

log = logging.getLogger("hookmesh.streams")
DAY = 86400.0


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: list[str]
    max_age: float
    description: str
    duplicate_window: float = 120.0


STREAMS = (
    StreamSpec(subjects.INGRESS_STREAM, [subjects.INGRESS_ALL], 7 * DAY, "raw accepted webhooks, as envelopes"),
    StreamSpec(subjects.EVENTS_STREAM, [subjects.EVENTS_ALL], 7 * DAY,
               "validated events; consumer services subscribe here"),
    StreamSpec(subjects.DELIVER_STREAM, [subjects.DELIVER_ALL], 7 * DAY, "one subject per destination"),
    StreamSpec(subjects.DLQ_STREAM, [subjects.DLQ_ALL], 30 * DAY, "dead letters"),
)

BUCKETS = (
    (subjects.CONFIG_BUCKET, 64, 0.0, "sources, schemas, destinations, routes, consumers; with history"),
    (subjects.DLQ_STATUS_BUCKET, 5, 30 * DAY, "replayed / discarded state of dead letters"),
    (subjects.ATTEMPTS_BUCKET, 1, 7 * DAY, "delivery attempt history of events being retried"),
    (subjects.DESTINATION_STATE_BUCKET, 16, 0.0, "destinations paused by hand, disabled by 410, breaker state"),
    (subjects.DEDUP_BUCKET, 1, 0.0, "ingress dedup keys, each with its own TTL (the source's dedup_window)"),
)


def stream_config(spec: StreamSpec, replicas: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name, description=spec.description, subjects=spec.subjects,
        retention=RetentionPolicy.LIMITS, storage=StorageType.FILE, max_age=spec.max_age,
        num_replicas=replicas, duplicate_window=spec.duplicate_window, discard=DiscardPolicy.OLD,
        allow_direct=True, max_msg_size=8 * 1024 * 1024,
    )


async def ensure_streams(js: JetStreamContext, *, replicas: int = 1) -> None:
    """Create each stream, or update its settings in place. Messages and consumers are kept.

    The dead letters' retention comes from HOOKMESH_DLQ_MAX_AGE and HOOKMESH_DLQ_MAX_MSGS, read here so
    every caller (services, `apply`, `up`) provisions the same limits instead of resetting them.
    """
    for spec in STREAMS:
        config = stream_config(spec, replicas)
        if spec.name == subjects.DLQ_STREAM:
            config.max_age = dlq_max_age_from_env()
            config.max_msgs = dlq_max_msgs_from_env()
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            if exc.err_code != 10058:  # stream name already in use with a different configuration
                raise
            await js.update_stream(config)
    await ensure_buckets(js, replicas=replicas)


def stream_names() -> list[str]:
    """Every stream hookmesh provisions: the four streams and the streams behind the KV buckets."""
    return [spec.name for spec in STREAMS] + [subjects.kv_stream(bucket) for bucket, *_ in BUCKETS]


async def missing_streams(js: JetStreamContext) -> list[str]:
    """The hookmesh streams and KV buckets (as their streams, KV_<bucket>) that do not exist."""
    missing = []
    for name in stream_names():
        try:
            await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            missing.append(name)
    return missing


async def wait_for_streams(js: JetStreamContext, *, stop: asyncio.Event, retry: float = 2.0) -> None:
    """A service's start: wait until the streams and buckets exist. Services never create or change them:
    `hookmesh apply` (the Kubernetes Job, compose's `init`) and `hookmesh up` do, as the admin user, so a
    service's own NATS user needs no right over any stream (shared/natsperms.py)."""
    announced = False
    while missing := await missing_streams(js):
        if not announced:
            log.warning("waiting for %s to exist in NATS: run `hookmesh apply -f hookmesh.yaml` (in Kubernetes "
                        "the hookmesh-apply Job creates them)", ", ".join(missing))
            announced = True
        try:
            await asyncio.wait_for(stop.wait(), timeout=retry)
        except TimeoutError:
            continue
        raise asyncio.CancelledError
    if announced:
        log.info("the streams and buckets exist now; starting")


async def ensure_buckets(js: JetStreamContext, *, replicas: int = 1) -> None:
    for bucket, history, ttl, description in BUCKETS:
        try:
            await js.key_value(bucket)
        except nats.js.errors.BucketNotFoundError:
            try:
                await js.create_key_value(KeyValueConfig(
                    bucket=bucket, history=history, ttl=ttl or None, replicas=replicas,
                    storage=StorageType.FILE, description=description))
            except nats.js.errors.BadRequestError as exc:
                if exc.err_code != 10058:  # created concurrently by another service
                    raise
