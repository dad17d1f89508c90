"""Staff sessions end after PORTAL_STAFF_IDLE_HOURS without a request, and PORTAL_STAFF_MAX_HOURS
after signing in, whatever happens in between.

A member of staff's session opens pupils' and carers' records: one left signed in on a shared
office computer, or a session cookie stolen from it, must stop working by itself. Both limits are
kept in the session on the server, so a client cannot extend them; the session (and its cookie)
is also set to expire an hour after it would end, so neither lingers for Django's two weeks.

Only sessions with a signed-in user are affected. A parent's signing session (no user: the
e-mailed link is swapped for it, declarations/views.py) keeps Django's own session lifetime.
"""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY as USER_SESSION_KEY
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.dispatch import receiver
from django.urls import reverse

STAMPS_KEY = "staff_session"
# How often the last-seen time is written back: not on every request, to spare the session store.
SEEN_RESOLUTION_SECONDS = 60
# The session itself (and its cookie) outlives the limits by this much, so that the request which
# comes after a limit still finds it, and can say why the member of staff was signed out.
EXPLAIN_FOR_SECONDS = 3600


def _limits() -> tuple[float, float]:
    return settings.PORTAL_STAFF_IDLE_HOURS * 3600, settings.PORTAL_STAFF_MAX_HOURS * 3600


@receiver(user_logged_in, dispatch_uid="portal.sessions.staff_session_started")
def staff_session_started(sender, request, user, **kwargs):
    """Signing in starts both clocks afresh (django.contrib.auth.login keeps the session's data)."""
    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[STAMPS_KEY] = {"started": now, "seen": now}
    _expire_cookie_with_session(request, now, now)


def _expire_cookie_with_session(request, started: float, seen: float) -> None:
    idle, most = _limits()
    remaining = min(seen + idle, started + most) - time.time()
    request.session.set_expiry(max(1, int(remaining)) + EXPLAIN_FOR_SECONDS)


class StaffSessionTimeoutMiddleware:
    """Signs out a member of staff whose session has been idle or open too long.

    Placed after the session, authentication and messages middleware. The request that finds the
    session over a limit is answered with the sign-in page (and a message saying why), and
    returns to where it was going once signed in again.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and session.get(USER_SESSION_KEY) is not None:
            ended = self._check(request)
            if ended is not None:
                return ended
        return self.get_response(request)

    def _check(self, request):
        session = request.session
        now = time.time()
        stamps = session.get(STAMPS_KEY)
        if not isinstance(stamps, dict):  # a session from before these limits: they start now
            stamps = {"started": now, "seen": now}
            session[STAMPS_KEY] = stamps
            _expire_cookie_with_session(request, now, now)
            return None
        idle, most = _limits()
        if now - stamps["started"] > most:
            reason = f"You were signed out because you had been signed in for {_hours(most)}."
        elif now - stamps["seen"] > idle:
            reason = f"You were signed out after {_hours(idle)} without using the portal."
        else:
            if now - stamps["seen"] >= SEEN_RESOLUTION_SECONDS:
                session[STAMPS_KEY] = {"started": stamps["started"], "seen": now}
                _expire_cookie_with_session(request, stamps["started"], now)
            return None
        logout(request)
        messages.info(request, f"{reason} Sign in again to carry on.")
        return redirect_to_login(request.get_full_path() if request.method == "GET" else reverse("staff:dashboard"))


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    if hours == int(hours):
        hours = int(hours)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours:g} hours"
