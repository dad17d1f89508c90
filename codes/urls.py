from django.urls import path

from codes import views

app_name = "public"
urlpatterns = [
    path("", views.home, name="home"),
    path("accessibility/", views.accessibility, name="accessibility"),
    path("privacy/", views.privacy, name="privacy"),
    path("schools/<slug:slug>/", views.organisation_page, name="organisation"),
    path("schools/<slug:slug>/brand.css", views.brand_css, name="brand_css"),
    path("schools/<slug:slug>/logo", views.logo, name="logo"),
    path("schools/<slug:slug>/versions/", views.version_list, name="versions"),
    path("schools/<slug:slug>/versions/<int:number>/", views.version_detail, name="version"),
]
