"""Staff pages for signing, mounted at /staff/declarations/."""

from django.urls import path

from declarations import staff_views

app_name = "declarations_staff"
urlpatterns = [
    path("", staff_views.index, name="index"),
    path("<slug:school_slug>/", staff_views.status, name="status"),
    path("<slug:school_slug>/carers/<int:carer_id>/paper/", staff_views.record_paper, name="paper"),
    path("<slug:school_slug>/paper/find/", staff_views.paper_find, name="paper_find"),
]
