from django.urls import path

from schools import account_views

app_name = "account"
urlpatterns = [
    path("setup/", account_views.setup, name="setup"),
    path("verify/", account_views.verify, name="verify"),
    path("recovery-codes/", account_views.recovery_codes, name="recovery_codes"),
    path("recovery-codes/new/", account_views.recovery_codes_new, name="recovery_codes_new"),
    path("weekly-email/", account_views.weekly_digest, name="weekly_digest"),
]
