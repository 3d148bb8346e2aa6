"""SSRF guard: loopback, private, link-local and metadata addresses are refused (by literal or by name),
redirects are not followed, and https_only refuses plain http at apply time."""

from __future__ import annotations

import pytest

from shared.embedded_nats import free_port
from shared.errors import ConfigError
from tests.support.events import ROUTING_DELIVERY, config, publish, route
from tests.support.mesh import Mesh
from tests.support.polling import eventually
from tests.support.sink import RecordingSink

VECTORS = {
    "loopback-v4": "http://127.0.0.1:{port}/hooks",
    "loopback-v6": "http://[::1]:{port}/hooks",
    "private": "http://10.20.30.40/hooks",
    "metadata": "http://169.254.169.254/latest/meta-data/",
    "by-name": "http://localhost:{port}/hooks",
    "decimal-ip": "http://2130706433:{port}/hooks",
}


def _guarded(name: str, url: str) -> str:
    return (f"  - name: {name}\n    url: {url}\n    timeout: 2s\n"
            "    retry: {max_attempts: 2, initial: 50ms, max: 100ms}\n")


async def test_refused_addresses_are_dead_lettered_without_a_request(
        mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    mesh = mesh_factory(services=ROUTING_DELIVERY)
    await mesh.apply(config([_guarded(n, u.format(port=sink.port)) for n, u in VECTORS.items()],
                            [route("all", list(VECTORS))]))
    await mesh.start()
    event_id = await publish(mesh, {"n": 1})

    async def letters() -> list:
        items = (await mesh.dlq("GET", "?limit=50")).json["items"]
        return items if len(items) == len(VECTORS) else []

    found = await eventually(letters, what="one dead letter per refused destination")
    by_destination = {item["destination"]: item for item in found}
    assert set(by_destination) == set(VECTORS)
    for name, letter in by_destination.items():
        assert letter["event_id"] == event_id
        assert letter["reason"] == "destination_refused", (name, letter)
        assert letter["attempts"] == 1
        assert "refused" in letter["error"], letter["error"]
        if name != "decimal-ip":  # that one is not even a valid URL to aiohttp
            assert "allow_private_network" in letter["error"], letter["error"]
    assert sink.received == []  # the sink listens on loopback: nothing reached it


async def test_redirect_to_loopback_is_not_followed(mesh_factory: type[Mesh], sink: RecordingSink) -> None:
    target = RecordingSink()
    await target.start()
    try:
        sink.default_status = 302
        sink.script = [(302, {"Location": target.url})]
        mesh = mesh_factory(services=ROUTING_DELIVERY)
        # The redirecting endpoint itself is on loopback, so this destination allows private addresses.
        await mesh.apply(config([_guarded("redirector", sink.url) + "    allow_private_network: true\n"],
                                [route("all", ["redirector"])]))
        await mesh.start()
        await publish(mesh, {"n": 1})

        async def letter() -> list:
            return (await mesh.dlq("GET", "?reason=non_retryable_status")).json["items"]

        [item] = await eventually(letter, what="the redirect to be dead-lettered")
        assert "redirects are not followed" in item["error"]
        assert item["details"]["status"] == 302
        assert len(sink.received) == 1 and target.received == []
    finally:
        await target.stop()


async def test_https_only_refuses_plain_http_at_apply(mesh_factory: type[Mesh]) -> None:
    mesh = mesh_factory(services=())
    with pytest.raises(ConfigError, match="https_only"):
        await mesh.apply(config([_guarded("secure", f"http://example.com:{free_port()}/") +
                                 "    https_only: true\n"], [route("all", ["secure"])]))
