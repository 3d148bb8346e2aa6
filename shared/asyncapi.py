"""The AsyncAPI 3.0 document of hookmesh's subjects, generated from shared.subjects and the registry.

Consumer teams read it to learn every address, its stream, the CloudEvent envelope and, for each
registered event type and version, the schema of `data`.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec

from shared import subjects
from shared.config import Config
from shared.deadletters import DeadLetter
from shared.envelope import CONTENT_TYPE, CloudEvent, schema_uri

STREAM_OF = {
    "ingress": subjects.INGRESS_STREAM,
    "events": subjects.EVENTS_STREAM,
    "deliver": subjects.DELIVER_STREAM,
    "dlq": subjects.DLQ_STREAM,
}


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def _schemas() -> dict[str, Any]:
    """JSON Schemas of the envelope and the dead-letter record, straight from the msgspec structs."""
    _, defs = msgspec.json.schema_components([CloudEvent, DeadLetter], ref_template="#/components/schemas/{name}")
    cloud_event = defs["CloudEvent"]
    cloud_event["properties"]["data"] = {"description": "the event's data: JSON, validated against dataschema"}
    cloud_event["additionalProperties"] = {"description": "unknown extension attributes are kept and passed on"}
    return defs


def _package_version() -> str:
    try:
        return version("hookmesh")
    except PackageNotFoundError:
        return "0.0.0"


def build(config: Config, *, nats_host: str = "127.0.0.1:4222") -> dict[str, Any]:
    schemas = _schemas()
    sources = sorted(s.name for s in config.sources)
    destinations = sorted(d.name for d in config.destinations)
    channels: dict[str, Any] = {
        "ingress": {
            "address": subjects.ingress("{source}"),
            "title": f"Accepted webhooks (stream {subjects.INGRESS_STREAM})",
            "description": "Every webhook ingress accepted, as a CloudEvent, before validation.",
            "parameters": {"source": {"description": "the source name", **({"enum": sources} if sources else {})}},
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
        "deliver": {
            "address": subjects.deliver("{destination}"),
            "title": f"Events routed to a destination (stream {subjects.DELIVER_STREAM})",
            "parameters": {"destination": {"description": "the destination name",
                                           **({"enum": destinations} if destinations else {})}},
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
        "deliverBatch": {
            "address": subjects.deliver_batch("{destination}"),
            "title": f"Events of `channel: batch` routes, sent in batches (stream {subjects.DELIVER_STREAM})",
            "parameters": {"destination": {"description": "a destination with `batch:` settings",
                                           **({"enum": destinations} if destinations else {})}},
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
        "deliverOrdered": {
            "address": subjects.deliver_ordered("{destination}"),
            "title": f"Events with a partitionkey for an `ordered: true` destination "
                     f"(stream {subjects.DELIVER_STREAM})",
            "description": "Delivered one at a time per partitionkey, by one pinned delivery replica.",
            "parameters": {"destination": {"description": "an ordered destination",
                                           **({"enum": destinations} if destinations else {})}},
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
        "validateRequest": {
            "address": subjects.RPC_VALIDATE,
            "title": "Dry-run validation (core NATS request-reply, no stream)",
            "description": "Ingress sends a CloudEvent for `?dry_run=true`; validation answers the verdict.",
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
        "deadLetters": {
            "address": subjects.dlq("{stage}", "{name}"),
            "title": f"Dead letters (stream {subjects.DLQ_STREAM})",
            "parameters": {"stage": {"enum": ["validation", "routing", "delivery"]},
                           "name": {"description": "the source (validation, routing) or destination (delivery)"}},
            "messages": {"deadLetter": {"$ref": "#/components/messages/DeadLetter"}},
        },
        "events": {
            "address": "hookmesh.events.{type}",
            "title": f"Validated events, any type (stream {subjects.EVENTS_STREAM})",
            "description": "Consumer services subscribe here with a durable pull consumer; filter by type.",
            "parameters": {"type": {"description": "the CloudEvent type, for example com.acme.order.created"}},
            "messages": {"cloudEvent": {"$ref": "#/components/messages/CloudEvent"}},
        },
    }
    messages: dict[str, Any] = {
        "CloudEvent": {"name": "CloudEvent", "contentType": CONTENT_TYPE, "title": "A CloudEvents 1.0 envelope",
                       "payload": {"$ref": "#/components/schemas/CloudEvent"}},
        "DeadLetter": {"name": "DeadLetter", "contentType": "application/json",
                       "payload": {"$ref": "#/components/schemas/DeadLetter"}},
    }
    operations: dict[str, Any] = {}
    by_type: dict[str, list[Any]] = {}
    for schema in config.schemas:
        by_type.setdefault(schema.type, []).append(schema)
    for event_type, versions in sorted(by_type.items()):
        channel_key = _key(f"events.{event_type}")
        message_refs = {}
        for item in sorted(versions, key=lambda s: s.version):
            message_key = _key(f"{event_type}.v{item.version}")
            messages[message_key] = {
                "name": message_key, "contentType": CONTENT_TYPE,
                "title": f"{event_type} version {item.version}",
                "payload": {"allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {"type": "object", "properties": {
                        "type": {"const": event_type},
                        "dataschema": {"const": schema_uri(event_type, item.version)},
                        "data": item.schema}},
                ]},
            }
            message_refs[message_key] = {"$ref": f"#/components/messages/{message_key}"}
        channels[channel_key] = {
            "address": subjects.events(event_type),
            "title": f"{event_type} (stream {subjects.EVENTS_STREAM})",
            "messages": message_refs,
        }
        operations[_key(f"receive.{event_type}")] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_key}"},
            "summary": f"Consume {event_type} events",
            "messages": [{"$ref": f"#/channels/{channel_key}/messages/{k}"} for k in message_refs],
        }
    operations["receiveDeadLetters"] = {"action": "receive", "channel": {"$ref": "#/channels/deadLetters"},
                                        "messages": [{"$ref": "#/channels/deadLetters/messages/deadLetter"}]}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "hookmesh", "version": _package_version(),
                 "description": "Subjects of a hookmesh event mesh on NATS JetStream. Every message is a "
                                "CloudEvent in structured JSON mode; `traceparent` travels in the NATS headers "
                                "and in the envelope; `Nats-Msg-Id` is derived from the event id."},
        "defaultContentType": CONTENT_TYPE,
        "servers": {"nats": {"host": nats_host, "protocol": "nats", "description": "NATS with JetStream"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }
