"""Password reset and change for staff, with Django's own views and token generator.

A reset request gets the same reply, and takes the same time, whether or not the address is
known: the page only queues the work (send_password_reset) for the worker, which looks the address
up and e-mails each active account with it a link that works once (Django's token changes with
the password) for PASSWORD_RESET_TIMEOUT. Requests are rate-limited per client and per address
(PORTAL_RATE_LIMITS: password_reset_ip, password_reset_address). A reset never signs anyone in:
they sign in with the new password and then pass their second factor, as always.
"""

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.tasks import task
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator

from portal import ratelimit
from portal.tasks import enqueue_with_transaction
from schools.mfa import mfa_required

EMAIL_TEMPLATE = "onboarding/emails/password_reset.txt"
SUBJECT_TEMPLATE = "onboarding/emails/password_reset_subject.txt"


@task()
def send_password_reset(email: str) -> None:
    """E-mail a reset link to each active account with a usable password at `email` (none, if
    the address is unknown: nobody is told either way)."""
    form = auth_forms.PasswordResetForm(data={"email": email})
    if form.is_valid():
        form.save(
            domain_override=settings.PORTAL_BASE_URL.split("://", 1)[-1],
            subject_template_name=SUBJECT_TEMPLATE,
            email_template_name=EMAIL_TEMPLATE,
            extra_email_context={"base_url": settings.PORTAL_BASE_URL},
        )


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "onboarding/password_reset_form.html"
    success_url = reverse_lazy("onboarding:password_reset_done")

    def post(self, request, *args, **kwargs):
        if ratelimit.count("password_reset_ip", ratelimit.client(request)):
            return ratelimit.too_many(request, "password_reset_ip")
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        # Over the per-address limit: the same reply, but no further e-mail to that inbox.
        if not ratelimit.count("password_reset_address", email):
            enqueue_with_transaction(send_password_reset, email)
        return redirect(self.success_url)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "onboarding/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "onboarding/password_reset_confirm.html"
    success_url = reverse_lazy("onboarding:password_reset_complete")
    post_reset_login = False  # never past the second factor: sign in again, then the code


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "onboarding/password_reset_complete.html"


@method_decorator(mfa_required, name="dispatch")
class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "onboarding/password_change_form.html"
    success_url = reverse_lazy("onboarding:password_change_done")


@method_decorator(mfa_required, name="dispatch")
class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "onboarding/password_change_done.html"
