"""The portal's own error pages, where Django's defaults would not be in its style."""

from django.shortcuts import render
from django.utils.translation import gettext as _


def csrf_failure(request, reason=""):
    """A form refused by CSRF protection (CSRF_FAILURE_VIEW), as a page that says what to do next.

    The usual cause for a parent is a phone that dropped the cookie the form relies on (a page
    left open for long, private browsing, a browser set to block cookies). Nothing was changed,
    and the page says so. Django has already logged the reason (django.security.csrf).
    """
    signing = request.path.startswith("/sign/")
    return render(
        request,
        "403_csrf.html",
        {"signing": signing, "title": _("Your form was not sent")},
        status=403,
    )
