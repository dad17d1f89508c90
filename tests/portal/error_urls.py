"""The portal's URLs, and two that fail on purpose, for the error page tests."""

from django.core.exceptions import PermissionDenied
from django.urls import path

from portal.urls import urlpatterns as portal_urlpatterns


def forbidden(request):
    raise PermissionDenied("Internal detail that must not be shown.")


def broken(request):
    raise RuntimeError("Internal detail that must not be shown.")


urlpatterns = [path("forbidden/", forbidden), path("broken/", broken), *portal_urlpatterns]
