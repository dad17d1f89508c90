"""Deployment checks (`manage.py check --deploy`) for what would otherwise fail only later.

- The seal: evidence/checks.py.
- Rate limits: they are counted in Django's cache. A local-memory cache is one per process, so
  with several web processes each counts on its own and a client gets that many times the limit.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

# Caches each process keeps to itself: counters in them are per process.
PER_PROCESS_CACHES = {"django.core.cache.backends.locmem.LocMemCache"}
# A cache that keeps nothing: a rate limit counted there never trips.
NO_CACHE = "django.core.cache.backends.dummy.DummyCache"


@register(Tags.security, Tags.caches, deploy=True)
def shared_rate_limits_check(app_configs=None, **kwargs):
    """Rate limits are counted in a cache every web process shares."""
    backend = settings.CACHES["default"]["BACKEND"]
    processes = settings.PORTAL_WEB_PROCESSES
    if backend == NO_CACHE and settings.PRODUCTION:
        return [
            Error(
                "The default cache is Django's dummy cache, so rate limits are never counted.",
                hint="Set REDIS_URL to a Redis server the web processes share.",
                id="portal.E002",
            )
        ]
    if backend in PER_PROCESS_CACHES and processes > 1:
        return [
            Error(
                f"Rate limits would be counted separately in each of the {processes} web processes "
                f"(WEB_CONCURRENCY={processes}), because the default cache is local to a process.",
                hint=(
                    "Set REDIS_URL to a Redis server the web processes share, or run one web process "
                    "(WEB_CONCURRENCY=1)."
                ),
                id="portal.E003",
            )
        ]
    return []
