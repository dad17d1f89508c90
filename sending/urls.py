"""Staff pages for sending invitations, mounted at /staff/sending/ (the views: sending/views.py)."""

from django.urls import path

from sending import views

app_name = "sending"
urlpatterns = [
    path("", views.home, name="home"),
    path("<slug:school_slug>/", views.batch_list, name="batches"),
    path("<slug:school_slug>/send/", views.send, name="send"),
    path("<slug:school_slug>/batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("<slug:school_slug>/batches/<int:batch_id>/resume/", views.batch_resume, name="resume"),
    path(
        "<slug:school_slug>/batches/<int:batch_id>/send-again/", views.batch_resend, name="batch_resend"
    ),
    path("<slug:school_slug>/emails/<int:message_id>/send-again/", views.message_resend, name="resend"),
    path("<slug:school_slug>/carers/<int:carer_id>/new-link/", views.reissue_link, name="reissue"),
]
