from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

# Django admin shows carers' and pupils' data too: operators need their second factor there,
# as staff do (django-otp's documented way of making the default admin site require it).
admin.site.__class__ = OTPAdminSite

urlpatterns = [
    path("staff/account/", include("schools.account_urls")),
    path("staff/families/", include("schools.urls")),
    path("staff/declarations/", include("declarations.staff_urls")),
    path("staff/sending/", include("declarations.sending_urls")),
    path("staff/exports/", include("declarations.export_urls")),
    path("staff/completion/", include("declarations.dashboard_urls")),
    path("staff/", include("codes.staff_urls")),
    path("admin/", admin.site.urls),
    path("sign/", include("declarations.urls")),
    path("verify/", include("declarations.verification_urls")),
    path("", include("codes.urls")),
]
