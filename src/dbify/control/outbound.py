"""Which URLs Dbify may call on a user's behalf (webhooks, cron HTTP actions): SSRF policy.

A target is refused when its host resolves to a loopback, private, link-local,
multicast, reserved or unspecified address, unless the host name or one of its
addresses is in the allow-list (``settings.webhooks.allowed_hosts``: names or CIDRs),
for self-hosted setups that call services on their own network. Only ``http`` and
``https`` are allowed. The check resolves the name when called; the caller checks
right before each request, which narrows (without closing) the DNS-rebinding window.
This module does not send requests.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["OutboundPolicy", "TargetRefused"]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefused(Exception):
    """The URL may not be called (scheme, unresolvable or internal address)."""


def _internal(address: _Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _internal(address.ipv4_mapped)
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class OutboundPolicy:
    """``check(url)`` raises ``TargetRefused`` unless ``url`` may be called."""

    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._names: set[str] = set()
        self._networks: list[_Network] = []
        for entry in allowed_hosts:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self._names.add(entry.strip().lower())

    def _allowed(self, host: str, addresses: list[_Address]) -> bool:
        if host in self._names:
            return True
        return all(any(a in n for n in self._networks) for a in addresses)

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefused("Only http:// and https:// URLs with a host may be called")
        host = parts.hostname.lower()
        addresses = await self._resolve(
            host, parts.port or (443 if parts.scheme == "https" else 80)
        )
        internal = [a for a in addresses if _internal(a)]
        if internal and not self._allowed(host, internal):
            raise TargetRefused(
                f"{host} resolves to an internal address ({internal[0]}); "
                "add it to settings.webhooks.allowed_hosts to allow it"
            )

    async def _resolve(self, host: str, port: int) -> list[_Address]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise TargetRefused(f"Cannot resolve {host}") from exc
        return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
