"""What each NATS user of hookmesh may publish and subscribe to.

Three kinds of user (rendered by `hookmesh nats-auth` into nats-server's `authorization` block):

- `hookmesh`, the admin: everything. `hookmesh apply` (the Kubernetes Job, compose's `init`), `hookmesh up`
  and the operator's CLI use it; it creates and updates the streams and KV buckets.
- `hookmesh-<service>`, one per service: only the subjects that service reads and writes, the JetStream API
  of its own durables and buckets, and its own inbox prefix. It cannot create, change or delete a stream,
  so a compromised ingress cannot purge the dead letters or read the events of another stage.
- one user per consumer service under `consumers:` (see `consumer_permissions`).

JetStream's API is addressed by subject (`$JS.API.<verb>.<stream>[.<consumer>]`), so a permission on the
subject is a permission on that stream or consumer only. Every JetStream reply, including publish acks
and the messages a pull consumer hands out, goes to the requester's inbox; each user gets its own inbox
prefix instead of `_INBOX.>`, which would let it overhear other clients' replies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from shared import subjects
from shared.config import Consumer
from shared.settings import SERVICES
from shared.streams import stream_names
from shared.subjects import kv_stream, service_inbox

API = "$JS.API"
OPS_EVENTS = "hookmesh.events.com.hookmesh.>"  # operational events (com.hookmesh.*), published by hookmesh


@dataclass
class Permissions:
    publish: list[str] = field(default_factory=list)
    subscribe: list[str] = field(default_factory=list)
    # Lets a user answer requests it received (validation answering ingress's dry runs) without a
    # publish permission on the requester's inbox.
    allow_responses: bool = False

    def add(self, publish: Iterable[str] = (), subscribe: Iterable[str] = ()) -> Permissions:
        self.publish += [p for p in dict.fromkeys(publish) if p not in self.publish]
        self.subscribe += [s for s in dict.fromkeys(subscribe) if s not in self.subscribe]
        return self


def service_user(service: str) -> str:
    return f"hookmesh-{service}"


def read_stream(stream: str) -> list[str]:
    """Stream info and reading single messages by sequence or subject (a KV get, a dead letter's body)."""
    return [f"{API}.STREAM.INFO.{stream}", f"{API}.STREAM.MSG.GET.{stream}", f"{API}.DIRECT.GET.{stream}",
            f"{API}.DIRECT.GET.{stream}.>"]


def watch_stream(stream: str) -> list[str]:
    """An ordered (ephemeral, flow-controlled) consumer: how a KV watch and the dead-letter index read."""
    return [*read_stream(stream), f"{API}.CONSUMER.CREATE.{stream}", f"{API}.CONSUMER.CREATE.{stream}.>",
            f"{API}.CONSUMER.DELETE.{stream}.>", f"{API}.CONSUMER.INFO.{stream}.>", f"$JS.FC.{stream}.>"]


def kv_watch(bucket: str) -> list[str]:
    return watch_stream(kv_stream(bucket))


def kv_write(bucket: str) -> list[str]:
    """Get, put, create, delete and purge keys of one bucket."""
    return [*read_stream(kv_stream(bucket)), f"$KV.{bucket}.>"]


_DURABLE_VERBS = ("INFO", "CREATE", "DURABLE.CREATE", "MSG.NEXT")


def durable(stream: str, name: str) -> list[str]:
    """One durable pull consumer: create or update it, pull, ack, read its info. With `name` ">", every
    durable of the stream (delivery creates one per destination)."""
    if name == ">":
        return [*(f"{API}.CONSUMER.{verb}.{stream}.>" for verb in _DURABLE_VERBS), f"$JS.ACK.{stream}.>"]
    return [*(f"{API}.CONSUMER.{verb}.{stream}.{name}" for verb in _DURABLE_VERBS),
            f"{API}.CONSUMER.CREATE.{stream}.{name}.>", f"$JS.ACK.{stream}.{name}.>"]


def service_permissions(service: str) -> Permissions:
    """The publish and subscribe allow lists of one hookmesh service's NATS user."""
    common = Permissions().add(
        # Starting up, a service checks that every stream and bucket exists (it creates none of them).
        publish=[f"{API}.STREAM.INFO.{s}" for s in stream_names()]
        + kv_watch(subjects.CONFIG_BUCKET),
        subscribe=[f"{service_inbox(service)}.>"])
    if service == "ingress":
        return common.add(publish=[subjects.INGRESS_ALL, subjects.RPC_VALIDATE,
                                   *read_stream(subjects.INGRESS_STREAM), *kv_write(subjects.DEDUP_BUCKET)])
    if service == "validation":
        perms = common.add(
            publish=["hookmesh.events.>", "hookmesh.dlq.validation.>",
                     *durable(subjects.INGRESS_STREAM, subjects.VALIDATION_CONSUMER)],
            subscribe=[subjects.RPC_VALIDATE])
        perms.allow_responses = True
        return perms
    if service == "routing":
        return common.add(publish=[
            subjects.DELIVER_ALL, "hookmesh.dlq.routing.>",
            *durable(subjects.EVENTS_STREAM, subjects.ROUTING_CONSUMER)])
    if service == "delivery":
        return common.add(publish=[
            "hookmesh.dlq.delivery.>", OPS_EVENTS, *durable(subjects.DELIVER_STREAM, ">"),
            *kv_write(subjects.ATTEMPTS_BUCKET), *kv_write(subjects.DESTINATION_STATE_BUCKET),
            *kv_watch(subjects.DESTINATION_STATE_BUCKET)])
    if service == "deadletter":
        return common.add(publish=[
            # replays go back to the stage that failed
            subjects.INGRESS_ALL, subjects.EVENTS_ALL, subjects.DELIVER_ALL,
            *(read for s in (subjects.INGRESS_STREAM, subjects.EVENTS_STREAM, subjects.DELIVER_STREAM)
              for read in read_stream(s)),
            *watch_stream(subjects.DLQ_STREAM), f"{API}.STREAM.MSG.DELETE.{subjects.DLQ_STREAM}",
            *durable(subjects.DLQ_STREAM, subjects.OPS_EVENTS_CONSUMER),
            *kv_write(subjects.DLQ_STATUS_BUCKET), *kv_watch(subjects.DLQ_STATUS_BUCKET),
            *read_stream(kv_stream(subjects.ATTEMPTS_BUCKET))])
    raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")


def consumer_permissions(consumer: Consumer) -> Permissions:
    """A consumer service under `consumers:` reads only its granted event types:

    - subscribe: `hookmesh.events.<type>` for each granted type (core NATS), and its own inbox prefix;
    - publish: the JetStream API of its own durable only (`consumer_<name>` on HOOKMESH_EVENTS: info,
      pull, ack) and of its own idempotency bucket (`hookmesh_processed_<name>`). It cannot create or
      change consumers, so it cannot widen its durable's filter, open an ephemeral consumer, or read
      stream messages directly. The operator creates the durable, filtered to the granted types, with
      `hookmesh nats-auth --provision`.
    """
    stream, name = subjects.EVENTS_STREAM, subjects.consumer_durable(consumer.name)
    bucket = subjects.consumer_bucket(consumer.name)
    return Permissions(
        publish=[f"{API}.CONSUMER.INFO.{stream}.{name}", f"{API}.CONSUMER.MSG.NEXT.{stream}.{name}",
                 f"$JS.ACK.{stream}.{name}.>", *kv_write(bucket)],
        subscribe=[f"{subjects.consumer_inbox(consumer.name)}.>",
                   *sorted({subjects.events(t) for t in consumer.types})])
