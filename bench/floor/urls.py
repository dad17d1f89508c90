from django.urls import path

from . import views

urlpatterns = [
    path("page/", views.page, name="bench-floor-page"),
    path("insert/", views.insert, name="bench-floor-insert"),
]
