"""The address a request really came from, for evidence (declarations) and rate limits.

A client can write any X-Forwarded-For header it likes, so the header is believed only when the
request reached us through one of our own reverse proxies, listed (addresses or networks) in
settings.PORTAL_TRUSTED_PROXIES. Each trusted proxy appends the address it saw to the right of
the header; the right-most address that is not one of ours is the client. Anything to its left
was written by the client, and is ignored.
"""

from __future__ import annotations

import functools
import ipaddress

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def client_ip(request) -> str | None:
    """The client's IP address as a string, or None when it cannot be known reliably."""
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    trusted = _trusted_networks(tuple(getattr(settings, "PORTAL_TRUSTED_PROXIES", ()) or ()))
    if not _is_trusted(remote, trusted):
        return str(remote)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if not forwarded:
        return str(remote)  # the proxy itself (a health check), not a client behind it
    for part in reversed(forwarded):
        address = _parse(part)
        if address is None:
            # Our own proxy wrote something that is not an address: nothing to its left can be
            # trusted, and we will not guess.
            return None
        if not _is_trusted(address, trusted):
            return str(address)
    # Every hop is one of ours: the request started inside our own network.
    return str(_parse(forwarded[0]))


def _parse(value: str) -> Address | None:
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.7:51234
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _trusted_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _is_trusted(address: Address, networks) -> bool:
    return any(address.version == network.version and address in network for network in networks)
