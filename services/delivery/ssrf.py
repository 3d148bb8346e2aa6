"""SSRF guard: destinations may not reach loopback, private, link-local or metadata addresses.

The refused ranges follow Svix's list: IPv4 this-network, private (RFC 1918), CGNAT, loopback,
link-local (cloud metadata at 169.254.169.254), IETF protocol assignments, documentation, 6to4 relay,
benchmarking, multicast, reserved and broadcast; IPv6 unspecified, loopback, IPv4-mapped and
-compatible (checked as IPv4), NAT64, discard, Teredo/ORCHID/documentation, 6to4, unique local
(fc00::/7, which holds AWS's fd00:ec2::254), link-local, site-local and multicast.

The check runs inside the connector's resolver, so the connection goes to the very address that was
checked (no window for DNS rebinding). Literal IPs in URLs are checked before connecting.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

from aiohttp.abc import AbstractResolver
from aiohttp.resolver import DefaultResolver

from shared.errors import PermanentDelivery

_BLOCKED_V4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32")]
_BLOCKED_V6 = [ipaddress.ip_network(n) for n in (
    "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "100::/64", "2001::/23", "2001:db8::/32",
    "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "64:ff9b:1::/48", "2002::/16", "::/96")]


def blocked_reason(address: str) -> str | None:
    """Why an address may not be a destination, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return blocked_reason(str(ip.ipv4_mapped))
    if isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour and blocked_reason(str(ip.sixtofour)):
        return f"{ip} is a 6to4 address for {ip.sixtofour}, which is refused"
    networks = _BLOCKED_V4 if ip.version == 4 else _BLOCKED_V6
    for network in networks:
        if ip in network:
            return f"{ip} is in {network} (private, loopback, link-local, metadata or reserved)"
    return None


class GuardedResolver(AbstractResolver):
    """Resolves with the default resolver, then refuses when any answer is a blocked address."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict[str, Any]]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            reason = blocked_reason(answer["host"])
            if reason:
                raise PermanentDelivery(f"refused {host}: {reason}; set allow_private_network: true on the "
                                        "destination if this is intended")
        return answers

    async def close(self) -> None:
        await self._inner.close()


def check_literal_host(host: str) -> None:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    reason = blocked_reason(host.strip("[]"))
    if reason:
        raise PermanentDelivery(f"refused {host}: {reason}; set allow_private_network: true on the destination "
                                "if this is intended")
