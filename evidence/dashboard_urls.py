"""Completion at a glance, mounted at /staff/completion/."""

from django.urls import path

from evidence import dashboard_views

app_name = "dashboard"
urlpatterns = [
    path("schools/<slug:school_slug>/", dashboard_views.school, name="school"),
    path("associations/<slug:association_slug>/", dashboard_views.association, name="association"),
]
