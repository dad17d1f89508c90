"""Staff pages for a school's families, under /staff/families/<school>/ (see schools/views.py)."""

from django.urls import path

from schools import views

app_name = "families"
urlpatterns = [
    path("<slug:school_slug>/pupils/", views.pupil_list, name="pupils"),
    path("<slug:school_slug>/pupils/<int:pupil_id>/", views.pupil_detail, name="pupil"),
    path("<slug:school_slug>/carers/", views.carer_list, name="carers"),
    path("<slug:school_slug>/carers/<int:carer_id>/", views.carer_detail, name="carer"),
    path("<slug:school_slug>/carers/<int:carer_id>/erase/", views.carer_erase, name="carer_erase"),
    path(
        "<slug:school_slug>/carers/<int:carer_id>/refuse-erasure/",
        views.carer_refuse_erasure,
        name="carer_refuse_erasure",
    ),
    path("<slug:school_slug>/import/", views.import_upload, name="import_upload"),
    path("<slug:school_slug>/import/preview/", views.import_preview_page, name="import_preview"),
    path("<slug:school_slug>/import/confirm/", views.import_confirm, name="import_confirm"),
    path("<slug:school_slug>/import/cancel/", views.import_cancel, name="import_cancel"),
    path("<slug:school_slug>/import/done/", views.import_result, name="import_result"),
    path("<slug:school_slug>/audit/", views.audit_log, name="audit_log"),
]
