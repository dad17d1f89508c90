"""The peer the parent's signing pages are measured beside: django-termsandconditions.

A Django app that shows signed-in users a terms document and records that they accepted it:
the nearest Python counterpart of a carer reading a code of conduct and signing it. It is
installed only in the `bench` extra and only by bench.peer.settings. What it is measured on:

- its terms page, GET /terms/accept/site-terms/, where its middleware sends a user who has not
  accepted the terms in force: the whole document and a one-button form;
- its accept POST, POST /terms/accept/ (CSRF-checked): one row saying who accepted which
  terms, when and from which address.

Each request is a different signed-in user, as each of the portal's is a different carer; the
document is the same code of conduct the portal's carers read (its Markdown rendered to HTML
once, as the peer stores HTML).
"""

from __future__ import annotations

import datetime
import importlib.metadata

PATH_PAGE = "/terms/accept/site-terms/"
PATH_ACCEPT = "/terms/accept/"


def version() -> str:
    return importlib.metadata.version("django-termsandconditions")


def terms_document(*, name: str, markdown: str):
    """The one terms document in force (since yesterday), its text the code rendered to HTML."""
    from django.utils import timezone
    from termsandconditions.models import TermsAndConditions

    from codes.markup import render_markdown

    return TermsAndConditions.objects.create(
        slug="site-terms", name=name, version_number=1, text=str(render_markdown(markdown)),
        date_active=timezone.now() - datetime.timedelta(days=1),
    )


def users_with_sessions(n: int, start_at: int) -> list[tuple[str, int]]:
    """n users, each signed in (a session as django.contrib.auth.login leaves it); (session key,
    user id). Inserted in bulk with unusable passwords: setting up is not what is measured."""
    import time

    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from portal.sessions import STAMPS_KEY

    User = get_user_model()
    numbers = range(start_at, start_at + n)
    users = User.objects.bulk_create(
        User(username=f"peer{i}", email=f"peer{i}@example.org", password=f"!unusable{i}") for i in numbers
    )
    store, now = SessionStore(), timezone.now()
    # The portal's staff-session middleware runs for every signed-in user in this stack; stamped
    # as seen in the future, it never writes these sessions back, as a peer site's own stack would not.
    stamps = {"started": time.time(), "seen": time.time() + 3600}
    sessions = [
        Session(
            session_key=store._get_new_session_key(),
            expire_date=now + datetime.timedelta(days=1),
            session_data=store.encode({
                SESSION_KEY: str(user.pk),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: user.get_session_auth_hash(),
                STAMPS_KEY: stamps,
            }),
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions)
    return [(s.session_key, u.pk) for s, u in zip(sessions, users)]


def acceptances() -> int:
    from termsandconditions.models import UserTermsAndConditions

    return UserTermsAndConditions.objects.count()
