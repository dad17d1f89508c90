"""The carer's "send me a new link" pages, mounted at /sign/new-link/."""

from django.urls import path

from sending import parent_views

app_name = "new_link"
urlpatterns = [
    path("", parent_views.new_link, name="ask"),
    path("sent/", parent_views.new_link_sent, name="sent"),
]
