"""Rate limits: fixed-window counters in Django's cache, shared between processes when the cache
is Redis (settings: REDIS_URL). The limits are one table, settings.PORTAL_RATE_LIMITS:
{name: (how many, per how many seconds)}.
"""

import hashlib
import ipaddress
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.shortcuts import render

from portal.client_ip import client_ip


def rate(name: str) -> tuple[int, int]:
    """(how many, per how many seconds) for the limit called `name`."""
    return settings.PORTAL_RATE_LIMITS[name]


def _counter_key(name: str, who: str) -> tuple[str, int]:
    _, period = rate(name)
    window = int(time.time() // period)
    digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:32]  # no addresses in cache keys
    return f"portal:rate:{name}:{digest}:{window}", period


def count(name: str, who: str) -> bool:
    """Count one more attempt by `who`; True when that takes them over the limit."""
    key, period = _counter_key(name, who)
    cache.add(key, 0, timeout=period + 1)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        attempts = 1
    return attempts > rate(name)[0]


def is_over(name: str, who: str) -> bool:
    """Whether `who` is already over the limit, without counting."""
    key, _ = _counter_key(name, who)
    return (cache.get(key) or 0) >= rate(name)[0]


def client(request) -> str:
    """Who to count as one client: their address, or for IPv6 their /64 (one household)."""
    address = client_ip(request)
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


def too_many(request, name: str) -> HttpResponse:
    """The "too many attempts" page for limit `name`, saying how long to wait."""
    minutes = max(1, rate(name)[1] // 60)
    response = render(request, "declarations/rate_limited.html", {"minutes": minutes}, status=429)
    response.headers["Retry-After"] = str(minutes * 60)
    return response
