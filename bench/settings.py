"""Settings for benchmarks: the portal's own, plus the floor views measured beside it.

Only what a benchmark must change is changed: the floor app and its URLs, no debug, loopback
hosts, rate limits out of the way (one client address makes every request of a load test), and
quiet logs. Everything measured runs the portal's real middleware, templates and database code.
"""

from portal.settings import *  # noqa: F403
from portal.settings import INSTALLED_APPS, LOGGING, PORTAL_RATE_LIMITS

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = [*INSTALLED_APPS, "bench.floor"]
ROOT_URLCONF = "bench.urls"
PORTAL_RATE_LIMITS = {name: (10**9, 1) for name in PORTAL_RATE_LIMITS}
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}
