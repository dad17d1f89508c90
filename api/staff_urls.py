from django.urls import path

from api import staff_views

app_name = "api_staff"

urlpatterns = [
    path("<slug:slug>/", staff_views.keys, name="keys"),
    path("<slug:slug>/<int:pk>/revoke/", staff_views.revoke, name="revoke"),
]
