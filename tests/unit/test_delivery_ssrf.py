"""services/delivery/ssrf.py: which addresses a destination may not reach."""

from __future__ import annotations

import pytest

from services.delivery.ssrf import blocked_reason, check_literal_host
from shared.errors import PermanentDelivery

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "192.0.2.10",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "ff02::1",
    "2001:db8::1",
    "64:ff9b::7f00:1",
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "172.32.0.1",
    "100.128.0.1",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
]


@pytest.mark.parametrize("address", BLOCKED)
def test_blocked(address: str) -> None:
    reason = blocked_reason(address)
    assert reason is not None
    assert "private, loopback, link-local, metadata or reserved" in reason


@pytest.mark.parametrize("address", ALLOWED)
def test_allowed(address: str) -> None:
    assert blocked_reason(address) is None


@pytest.mark.parametrize(("address", "network"), [
    ("127.0.0.1", "127.0.0.0/8"),
    ("169.254.169.254", "169.254.0.0/16"),
    ("::ffff:127.0.0.1", "127.0.0.0/8"),
    ("fc00::1", "fc00::/7"),
])
def test_reason_names_the_network(address: str, network: str) -> None:
    assert network in (blocked_reason(address) or "")


@pytest.mark.parametrize("junk", ["example.com", "", "999.1.1.1"])
def test_non_addresses_are_refused(junk: str) -> None:
    assert "is not an IP address" in (blocked_reason(junk) or "")


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "[::1]", "::1", "[fe80::1]",
                                  "[::ffff:127.0.0.1]", "0.0.0.0"])
def test_check_literal_host_refuses_blocked_literals(host: str) -> None:
    with pytest.raises(PermanentDelivery) as excinfo:
        check_literal_host(host)
    assert host in str(excinfo.value)
    assert "allow_private_network" in str(excinfo.value)


@pytest.mark.parametrize("host", ["example.com", "localhost", "hooks.zapier.com", "8.8.8.8",
                                  "[2606:4700:4700::1111]"])
def test_check_literal_host_passes_hostnames_and_public_literals(host: str) -> None:
    assert check_literal_host(host) is None
