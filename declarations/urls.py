"""The carer's signing pages, mounted at /sign/."""

from django.urls import path

from declarations import views

app_name = "signing"
urlpatterns = [
    path("", views.sign, name="sign"),
    path("t/<str:token>/", views.link, name="link"),
    path("t/<str:token>/changes/", views.link, {"then": "changes"}, name="link_changes"),
    path("done/", views.done, name="done"),
    path("copy/", views.copy, name="copy"),
    path("decline/", views.decline, name="decline"),
    path("declined/", views.declined, name="declined"),
    path("changes/", views.changes, name="changes"),
    path("new-link/", views.new_link, name="new_link"),
    path("new-link/sent/", views.new_link_sent, name="new_link_sent"),
]
