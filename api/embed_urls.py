from django.urls import path

from api.embed import embedded_code

app_name = "embed"

urlpatterns = [
    path("<slug:slug>/", embedded_code, name="code"),
]
