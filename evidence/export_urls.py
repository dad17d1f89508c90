"""Staff pages for declaration PDFs, ZIP exports, registers and a carer's subject access ZIP,
mounted at /staff/exports/."""

from django.urls import path

from evidence import export_views

app_name = "exports"
urlpatterns = [
    path("<slug:school_slug>/", export_views.home, name="home"),
    path("<slug:school_slug>/<int:export_id>/", export_views.detail, name="detail"),
    path("<slug:school_slug>/<int:export_id>/download/", export_views.download, name="download"),
    path("<slug:school_slug>/register.<str:file_format>", export_views.register, name="register"),
    path("<slug:school_slug>/declarations/<int:declaration_id>/pdf/", export_views.declaration_pdf, name="declaration_pdf"),
    path("<slug:school_slug>/personal-links.csv", export_views.personal_links, name="personal_links"),
    path("<slug:school_slug>/paper-forms.pdf", export_views.print_paper_forms, name="paper_forms"),
    path(
        "<slug:school_slug>/carers/<int:carer_id>/subject-access/",
        export_views.carer_subject_access,
        name="carer_subject_access",
    ),
]
