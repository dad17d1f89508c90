from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from django_otp.admin import OTPAdminSite

# Django admin shows carers' and pupils' data too: operators need their second factor there,
# as staff do (django-otp's documented way of making the default admin site require it).
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("staff/account/", include("schools.account_urls")),
    path("staff/families/", include("schools.urls")),
    path("staff/declarations/", include("declarations.staff_urls")),
    path("staff/sending/", include("sending.urls")),
    path("staff/exports/", include("evidence.export_urls")),
    path("staff/completion/", include("evidence.dashboard_urls")),
    path("staff/", include("onboarding.urls")),
    path("staff/", include("codes.staff_urls")),
    path("staff/api-keys/", include("api.staff_urls")),
    path("staff/webhooks/", include("webhooks.staff_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("embed/", include("api.embed_urls")),
    # The language switch on every parent page: a form posting here sets the language cookie
    # and goes back to the page it was on (Django's own view; the signing session is untouched).
    path("language/", set_language, name="set_language"),
    path("sign/new-link/", include("sending.parent_urls")),
    path("sign/", include("declarations.urls")),
    path("sign/", include("evidence.receipt_urls")),
    path("verify/", include("evidence.verification_urls")),
    path("", include("codes.urls")),
]

if find_spec("anymail"):  # an e-mail service's bounce and complaint webhooks (sending/bounces.py)
    urlpatterns.insert(0, path("anymail/", include("sending.webhook_urls")))
