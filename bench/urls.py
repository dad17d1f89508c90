"""The portal's URLs, and the floor views under /bench-floor/."""

from django.urls import include, path

urlpatterns = [
    path("bench-floor/", include("bench.floor.urls")),
    path("", include("portal.urls")),
]
