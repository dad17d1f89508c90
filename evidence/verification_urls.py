"""The public verification page, mounted at /verify/."""

from django.urls import path

from evidence import verification_views

app_name = "verification"
urlpatterns = [
    path("", verification_views.verify, name="verify"),
]
