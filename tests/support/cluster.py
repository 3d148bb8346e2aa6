"""A 3-node NATS JetStream cluster on loopback: three nats-server processes with routes, server names, one
cluster name and a store directory each. Nodes can be killed (-9) and restarted on the same store and ports.

Each node fsyncs every write before acknowledging it (`sync_interval: always`), as deploy/nats does; see
docs/durability.md for why.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import nats.errors
import nats.js.errors

from shared.embedded_nats import EmbeddedNats, free_port
from tests.support.polling import eventually

CLUSTER_NAME = "hookmesh-test"


class NatsNode(EmbeddedNats):
    def __init__(self, name: str, base: Path, client_port: int, route_port: int, peers: list[int]) -> None:
        self.server_name = name
        base.mkdir(parents=True, exist_ok=True)
        self.config_file = base / "nats.conf"
        routes = ", ".join(f'"nats-route://127.0.0.1:{p}"' for p in peers)
        self.config_file.write_text(
            f'server_name: "{name}"\n'
            'jetstream {\n  sync_interval: always\n}\n'  # the store directory is given by -sd
            f'cluster {{\n  name: "{CLUSTER_NAME}"\n  listen: "127.0.0.1:{route_port}"\n  routes: [{routes}]\n'
            '  pool_size: 1\n}\n')
        super().__init__(base / "jetstream", port=client_port, extra_args=["-c", str(self.config_file),
                                                                           "-n", name],
                         log_file=base / "nats-server.log")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class NatsCluster:
    def __init__(self, base: Path, size: int = 3) -> None:
        client_ports = [free_port() for _ in range(size)]
        route_ports = [free_port() for _ in range(size)]
        self.nodes = [NatsNode(f"n{i + 1}", base / f"n{i + 1}", client_ports[i], route_ports[i],
                               [p for j, p in enumerate(route_ports) if j != i]) for i in range(size)]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.server_name == name)

    async def start(self, timeout: float = 30.0) -> None:
        for node in self.nodes:
            node.spawn()
        for node in self.nodes:
            await asyncio.to_thread(node.wait_listening, timeout)
        await self.wait_jetstream_ready(timeout)

    async def wait_jetstream_ready(self, timeout: float = 30.0) -> None:
        """Every live node answers JetStream account info (a meta leader exists and it knows it)."""
        async def ready() -> bool:
            for node in self.nodes:
                if not node.alive():
                    continue
                try:
                    nc = await nats.connect(node.url, connect_timeout=1, allow_reconnect=False)
                except (OSError, nats.errors.Error, TimeoutError):
                    return False
                try:
                    await nc.jetstream(timeout=1).account_info()
                except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
                    return False
                finally:
                    await nc.close()
            return True

        await eventually(ready, timeout=timeout, interval=0.25, what="the JetStream cluster to be ready")
        await eventually(self._places_three_replicas, timeout=timeout, interval=0.25,
                         what="the cluster to place a stream on all its nodes")

    async def _places_three_replicas(self) -> bool:
        """The meta leader knows every peer: a probe stream with a replica per node can be created."""
        nc = await nats.connect(servers=self.live_url().split(","), connect_timeout=1, allow_reconnect=False)
        try:
            js = nc.jetstream(timeout=3)
            await js.add_stream(name="HOOKMESH_CLUSTER_PROBE", subjects=["hookmesh.cluster.probe"],
                                num_replicas=len(self.nodes))
            await js.delete_stream("HOOKMESH_CLUSTER_PROBE")
            return True
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return False
        finally:
            await nc.close()

    async def stream_leader(self, stream: str) -> str:
        """The server name of the stream's current leader."""
        async def leader() -> str | None:
            nc = await nats.connect(servers=self.live_url().split(","), connect_timeout=1, allow_reconnect=False)
            try:
                info = await nc.jetstream(timeout=2).stream_info(stream)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
                return None
            finally:
                await nc.close()
            return info.cluster.leader if info.cluster else None

        return await eventually(leader, timeout=20, interval=0.2, what=f"a leader for {stream}")

    async def stream_current(self, stream: str) -> bool:
        """The stream has a leader and all its replicas are current (caught up) again."""
        nc = await nats.connect(servers=self.live_url().split(","), connect_timeout=1, allow_reconnect=False)
        try:
            info = await nc.jetstream(timeout=2).stream_info(stream)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return False
        finally:
            await nc.close()
        cluster = info.cluster
        if cluster is None or not cluster.leader:
            return False
        replicas = cluster.replicas or []
        return len(replicas) == len(self.nodes) - 1 and all(r.current and not r.offline for r in replicas)

    def live_url(self) -> str:
        return ",".join(node.url for node in self.nodes if node.alive())

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
