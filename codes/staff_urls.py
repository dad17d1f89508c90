from django.contrib.auth import views as auth_views
from django.urls import path

from codes import staff_views

app_name = "staff"
urlpatterns = [
    path("", staff_views.dashboard, name="dashboard"),
    path("login/", staff_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("codes/<int:code_id>/", staff_views.code_detail, name="code"),
    path("codes/<int:code_id>/draft/", staff_views.draft_start, name="draft_start"),
    path("codes/<int:code_id>/compare/", staff_views.compare, name="compare"),
    path("codes/<int:code_id>/review/", staff_views.code_review, name="review"),
    path("versions/<int:version_id>/edit/", staff_views.draft_edit, name="edit"),
    path("versions/<int:version_id>/preview/", staff_views.version_preview, name="preview"),
    path("versions/<int:version_id>/publish/", staff_views.version_publish, name="publish"),
    path("versions/<int:version_id>/discard/", staff_views.draft_discard, name="discard"),
    path(
        "versions/<int:version_id>/translations/<str:language>/",
        staff_views.version_translation,
        name="translation",
    ),
]
