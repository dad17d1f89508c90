"""The code in force on the school's own website: a page the school frames (an <iframe>) that
always shows the version in force today, so it keeps itself up to date.

Only the school's registered website may frame it: the page's Content Security Policy says
`frame-ancestors <the origin of the school's website>` (Organisation.website, set by an
operator in Django admin), and none at all when the school has no website registered. The page
has no script; its link for parents opens the portal in the whole window.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_safe

from codes import selectors
from codes.services import version_in_force
from codes.views import version_context
from schools.models import Organisation


def website_origin(organisation: Organisation) -> str | None:
    """scheme://host[:port] of the school's registered website, or None."""
    parts = urlsplit(organisation.website or "")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


@require_safe
@xframe_options_exempt  # X-Frame-Options cannot name an origin: the CSP below decides
@cache_control(public=True, max_age=300)  # a new version shows within 5 minutes
def embedded_code(request, slug):
    organisation = get_object_or_404(Organisation, slug=slug, kind=Organisation.Kind.SCHOOL)
    code = selectors.organisation_code(organisation)
    version = version_in_force(code) if code else None
    context = {"organisation": organisation, "version": version}
    if version:
        context.update(version_context(version, organisation))
    response = render(request, "api/embed.html", context)
    origin = website_origin(organisation)
    # The portal's policy, with no script at all, and framing by the school's website only.
    response._csp_config = {
        **settings.SECURE_CSP,
        "script-src": [CSP.NONE],
        "frame-ancestors": [origin] if origin else [CSP.NONE],
    }
    return response


def snippet(request, organisation: Organisation) -> str:
    """What the school pastes into its website."""
    url = request.build_absolute_uri(reverse("embed:code", args=[organisation.slug]))
    return (
        f'<iframe src="{url}" title="Social Media Code of Conduct for Parents and Carers" '
        'style="width:100%;height:80vh;border:0" loading="lazy"></iframe>'
    )
