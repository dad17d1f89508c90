from django.urls import path

from webhooks import staff_views

app_name = "webhooks_staff"

urlpatterns = [
    path("<slug:slug>/", staff_views.endpoints, name="endpoints"),
    path("<slug:slug>/<int:pk>/", staff_views.endpoint, name="endpoint"),
    path("<slug:slug>/<int:pk>/rotate/", staff_views.rotate, name="rotate"),
    path("<slug:slug>/<int:pk>/resume/", staff_views.resume, name="resume"),
    path("<slug:slug>/<int:pk>/delete/", staff_views.delete, name="delete"),
]
