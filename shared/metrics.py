"""Prometheus metrics: one registry per service, so each service's /metrics shows its own series.

Labels stay bounded: sources, types, destinations, reasons and status classes, never event ids.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

END_TO_END_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
                      3600)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class StageMetrics:
    """What every service reports about its consume loop and its publishes."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.service = service
        self.messages = Counter("hookmesh_messages_total", "Messages a stage finished, by outcome",
                                ["service", "consumer", "outcome"], registry=registry)
        self.handle_seconds = Histogram("hookmesh_handle_seconds", "Time to handle one message",
                                        ["service", "consumer"], buckets=LATENCY_BUCKETS, registry=registry)
        self.in_flight = Gauge("hookmesh_in_flight", "Messages being handled now",
                               ["service", "consumer"], registry=registry)
        self.published = Counter("hookmesh_published_total", "Messages published and acknowledged by "
                                 "JetStream, by stream", ["service", "stream"], registry=registry)
        self.publish_errors = Counter("hookmesh_publish_errors_total", "Publishes JetStream did not "
                                      "acknowledge", ["service", "reason"], registry=registry)
        self.dead_lettered = Counter("hookmesh_dead_lettered_total", "Events a stage dead-lettered, by "
                                     "reason", ["service", "reason"], registry=registry)
        self.nats_connected = Gauge("hookmesh_nats_connected", "1 while connected to NATS",
                                    ["service"], registry=registry)
        self.backlog = Gauge("hookmesh_consumer_pending", "Messages not yet delivered to this consumer "
                             "(read from JetStream at scrape time)", ["stream", "consumer"], registry=registry)
        self.ack_pending = Gauge("hookmesh_consumer_ack_pending", "Messages delivered and not yet acknowledged "
                                 "(in flight or waiting for a retry)", ["stream", "consumer"], registry=registry)
        self.redelivered = Gauge("hookmesh_consumer_redelivered", "Messages redelivered at least once and still "
                                 "unacknowledged", ["stream", "consumer"], registry=registry)
        self.config_revision = Gauge("hookmesh_config_revision", "Revision of the configuration bucket "
                                     "this service has applied", ["service"], registry=registry)


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)
