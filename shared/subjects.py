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

VALIDATION_CONSUMER = "validation"
ROUTING_CONSUMER = "routing"

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


def dlq(stage: str, name: str) -> str:
    return f"hookmesh.dlq.{stage}.{name or '_'}"


def delivery_consumer(destination: str) -> str:
    return f"delivery_{destination}"


def source_from_ingress(subject: str) -> str:
    return subject.split(".", 2)[2]
