"""The carer's signing pages, mounted at /sign/."""

from django.urls import path

from declarations import views

app_name = "signing"
urlpatterns = [
    path("", views.sign, name="sign"),
    path("t/<str:token>/", views.link, name="link"),
    path("t/<str:token>/changes/", views.link, {"then": "changes"}, name="link_changes"),
    path("s/<str:code>/", views.short_link, name="short_link"),
    path("decline/", views.decline, name="decline"),
    path("declined/", views.declined, name="declined"),
    path("changes/", views.changes, name="changes"),
]
