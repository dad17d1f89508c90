"""The carer's receipt and copy, mounted at /sign/ beside the signing pages."""

from django.urls import path

from evidence import receipt_views

app_name = "receipt"
urlpatterns = [
    path("done/", receipt_views.receipt, name="done"),
    path("copy/", receipt_views.copy, name="copy"),
]
