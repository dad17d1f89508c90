"""Staff pages for sending invitations, mounted at /staff/sending/ (see declarations/sending_views.py)."""

from django.urls import path

from declarations import sending_views

app_name = "sending"
urlpatterns = [
    path("", sending_views.home, name="home"),
    path("<slug:school_slug>/", sending_views.batch_list, name="batches"),
    path("<slug:school_slug>/send/", sending_views.send, name="send"),
    path("<slug:school_slug>/batches/<int:batch_id>/", sending_views.batch_detail, name="batch"),
    path("<slug:school_slug>/batches/<int:batch_id>/resume/", sending_views.batch_resume, name="resume"),
    path(
        "<slug:school_slug>/batches/<int:batch_id>/send-again/", sending_views.batch_resend, name="batch_resend"
    ),
    path("<slug:school_slug>/emails/<int:message_id>/send-again/", sending_views.message_resend, name="resend"),
]
