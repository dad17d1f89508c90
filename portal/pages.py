"""Headers for the pages a carer reaches through their link: never cached, and never telling
another site where the reader came from."""

import functools

from django.http import HttpResponseRedirect
from django.utils.cache import add_never_cache_headers


def _private(referrer_policy: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            add_never_cache_headers(response)
            response.headers["Referrer-Policy"] = referrer_policy
            return response

        return wrapper

    return decorator


# No page of the signing flow is cached, or tells another site where the reader came from.
signing_page = _private("no-referrer")
# Pages that carry a form. Under "no-referrer" a browser sends the form's POST with
# "Origin: null" and no Referer, which CSRF protection rightly refuses (Django checks one or the
# other). "same-origin" still tells no other site anything; and the token never reaches these
# pages: it is only ever in /sign/t/…, whose every answer is "no-referrer".
signing_form_page = _private("same-origin")


def see_other(url: str) -> HttpResponseRedirect:
    """A 303: after a POST, the browser GETs the next page."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response
