from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import actions, views
from api.problems import not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from the portal's own static files (drf-spectacular-sidecar), its start-up script
    # served apart from the page: the Content Security Policy allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema", template_name="api/swagger_ui.html"), name="docs"),
    path("organisations/", views.OrganisationList.as_view(), name="organisations"),
    path("organisations/<slug:slug>/", views.OrganisationDetail.as_view(), name="organisation"),
    path("organisations/<slug:slug>/code/", views.CodeDetail.as_view(), name="code"),
    path("organisations/<slug:slug>/code/versions/<int:number>/", views.VersionDetail.as_view(), name="version"),
    path("schools/<slug:slug>/carers/", views.CarerList.as_view(), name="carers"),
    path("schools/<slug:slug>/declarations/", views.DeclarationList.as_view(), name="declarations"),
    path("schools/<slug:slug>/declarations/<int:pk>/", views.DeclarationDetail.as_view(), name="declaration"),
    path("schools/<slug:slug>/declarations/<int:pk>/pdf/", views.DeclarationPdf.as_view(), name="declaration-pdf"),
    path("schools/<slug:slug>/imports/", actions.FamiliesImport.as_view(), name="imports"),
    path("schools/<slug:slug>/invitations/", actions.Invitations.as_view(), name="invitations"),
    path("schools/<slug:slug>/invitations/<int:pk>/", actions.InvitationBatch.as_view(), name="invitation-batch"),
    path("schools/<slug:slug>/exports/", actions.Exports.as_view(), name="exports"),
    path("schools/<slug:slug>/exports/<int:pk>/", actions.ExportDetail.as_view(), name="export"),
    path("schools/<slug:slug>/exports/<int:pk>/download/", actions.ExportDownload.as_view(), name="export-download"),
    re_path(r"", not_found),  # last: an address matching nothing above
]
