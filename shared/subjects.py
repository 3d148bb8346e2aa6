"""Subjects, streams and durable consumer names: the addresses the services meet at."""

from __future__ import annotations

import re

INGRESS_STREAM = "HOOKMESH_INGRESS"
EVENTS_STREAM = "HOOKMESH_EVENTS"
DELIVER_STREAM = "HOOKMESH_DELIVER"
DLQ_STREAM = "HOOKMESH_DLQ"

INGRESS_ALL = "hookmesh.ingress.>"
EVENTS_ALL = "hookmesh.events.>"
DELIVER_ALL = "hookmesh.deliver.>"
DLQ_ALL = "hookmesh.dlq.>"

CONFIG_BUCKET = "hookmesh_config"
DLQ_STATUS_BUCKET = "hookmesh_dlq_status"
ATTEMPTS_BUCKET = "hookmesh_attempts"
# Delivery state per destination, watched by every delivery replica: `{destination}.paused`,
# `{destination}.disabled` (410 Gone), `{destination}.breaker` (last breaker transition, informational).
DESTINATION_STATE_BUCKET = "hookmesh_destination_state"
DEDUP_BUCKET = "hookmesh_dedup"

# Core NATS request-reply (no stream): ingress asks validation to judge an event for a dry run.
RPC_VALIDATE = "hookmesh.rpc.validate"

VALIDATION_CONSUMER = "validation"
ROUTING_CONSUMER = "routing"
# deadletter's durable on HOOKMESH_DLQ that turns dead letters into operational events
OPS_EVENTS_CONSUMER = "deadletter_opsevents"

# Names become subject tokens, KV keys and consumer names, so they are kept to a safe alphabet.
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# An event type is dot-separated tokens: com.acme.order.created -> hookmesh.events.com.acme.order.created
TYPE_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def ingress(source: str) -> str:
    return f"hookmesh.ingress.{source}"


def events(event_type: str) -> str:
    return f"hookmesh.events.{event_type}"


def deliver(destination: str) -> str:
    return f"hookmesh.deliver.{destination}"


def deliver_batch(destination: str) -> str:
    """Events of `channel: batch` routes, grouped by the destination's batch consumer."""
    return f"hookmesh.deliver.{destination}.batch"


def deliver_ordered(destination: str) -> str:
    """Events with a partitionkey for an `ordered: true` destination, sequenced per key by delivery."""
    return f"hookmesh.deliver.{destination}.ordered"


def delivery_batch_consumer(destination: str) -> str:
    return f"delivery_{destination}_batch"


def delivery_ordered_consumer(destination: str) -> str:
    return f"delivery_{destination}_ordered"


def dlq(stage: str, name: str) -> str:
    return f"hookmesh.dlq.{stage}.{name or '_'}"


def delivery_consumer(destination: str) -> str:
    return f"delivery_{destination}"


def consumer_durable(consumer: str) -> str:
    """The durable on HOOKMESH_EVENTS of a consumer service named under `consumers:`."""
    return f"consumer_{consumer}"


def consumer_bucket(consumer: str) -> str:
    """The KV bucket where a consumer service records the event ids it processed."""
    return f"hookmesh_processed_{consumer}"


def consumer_inbox(consumer: str) -> str:
    """A consumer service's own inbox prefix, so its permissions need not include everyone's `_INBOX.>`."""
    return f"_INBOX_{consumer}"


def service_inbox(service: str) -> str:
    """A hookmesh service's own inbox prefix, for the same reason (shared/natsperms.py)."""
    return f"_INBOX_hookmesh_{service}"


def kv_stream(bucket: str) -> str:
    """The stream behind a KV bucket."""
    return f"KV_{bucket}"


def source_from_ingress(subject: str) -> str:
    return subject.split(".", 2)[2]
