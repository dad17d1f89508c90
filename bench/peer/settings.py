"""bench.settings plus the peer, django-termsandconditions, under /terms/.

Used by bench/signing.py only: one gunicorn serves the portal's signing page and the peer's
terms page side by side, through the same middleware, on the same database. The peer is set up
as its README says (the app installed, its URLs included) and otherwise left with its defaults:
its terms pages extend the portal's own base.html (its TERMS_BASE_TEMPLATE default), and it
keeps the active terms in the cache for its default 30 seconds.
"""

from bench.settings import *
from bench.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "termsandconditions"]
ROOT_URLCONF = "bench.peer.urls"
