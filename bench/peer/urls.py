"""The peer's URLs under /terms/ (as its README installs them), then the benchmarks' own."""

from django.urls import include, path

urlpatterns = [
    path("terms/", include("termsandconditions.urls")),
    path("", include("bench.urls")),
]
