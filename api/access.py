"""How a request with an API key is let in, counted, limited and logged (Django REST framework's
authentication, permission and exception hooks), and the schools it may reach.

    Authorization: Bearer cop_1a2b3c4d_…

Who a key may reach is decided by schools/permissions.py (integration_schools,
integration_family_schools), for the member of staff who made it, within its organisation.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework import permissions as drf_permissions

from api.keys import api_key_check
from api.models import ApiKey
from portal import ratelimit
from schools import permissions
from schools.audit import audit_record
from schools.models import AuditEvent, Organisation


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <key>`. A live key authenticates as the member of staff who made
    it, with the key as `request.auth`; each key may make PORTAL_RATE_LIMITS["api_key"]
    requests per period (portal/ratelimit.py), then gets 429 with Retry-After."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header must be: Bearer <your API key>.")
        key = api_key_check(header[1])
        if key is None:
            raise exceptions.AuthenticationFailed("This API key is not known, or has been revoked.")
        if ratelimit.count("api_key", key.prefix):
            raise exceptions.Throttled(wait=ratelimit.rate("api_key")[1])
        return key.created_by, key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.access.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key made on the staff pages."}


class HasScope(drf_permissions.BasePermission):
    """The key must carry the view's `required_scope` (read, unless the view says otherwise)."""

    message = "This API key may not do this: ask your headteacher for a key with that permission."

    def has_permission(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        return key.allows(getattr(view, "required_scope", ApiKey.Scope.READ))


class KeyAudited:
    """Every request made with a key goes in the audit log of the key's organisation: which key,
    the method and path, and the answer's status (never the body: it may name carers)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        key = getattr(request, "auth", None)
        if isinstance(key, ApiKey):
            audit_record(
                actor=key.created_by,
                school=key.organisation,
                action=AuditEvent.Action.API_REQUEST,
                target=f"API key {key.prefix}",
                detail={"key": key.prefix, "method": request.method, "path": request.path, "status": response.status_code},
                request=request,
            )
        return response


def reachable_schools(request, *, families: bool = False):
    """The schools this key may read (families=False), or whose families it may see and act on."""
    key: ApiKey = request.auth
    if families:
        return permissions.integration_family_schools(request.user, key.organisation)
    return permissions.integration_schools(request.user, key.organisation)


def school_for(request, slug: str, *, families: bool = False) -> Organisation:
    """The school named by `slug` if the key reaches it; otherwise 404, never a hint it exists."""
    return get_object_or_404(reachable_schools(request, families=families), slug=slug)


def reachable_organisations(request):
    """Schools the key reads, and the association of the key (or of its school)."""
    key: ApiKey = request.auth
    schools = reachable_schools(request)
    associations = Organisation.objects.filter(kind=Organisation.Kind.ASSOCIATION).filter(
        pk__in=[key.organisation.pk, key.organisation.association_id or 0]
    )
    if not schools.exists():
        associations = associations.none()
    return Organisation.objects.filter(pk__in=schools.values("pk")) | Organisation.objects.filter(
        pk__in=associations.values("pk")
    )
