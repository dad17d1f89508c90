"""Forms for staff sign-in security: one field each, checked for shape here, for truth in schools/mfa.py."""

import re

from crispy_forms.layout import Hidden
from django import forms

from portal.forms import form_helper, submit_button


def _sent_back(**fields):
    """Hidden inputs: where to go afterwards (the page's `next`), and any fixed `fields`."""
    return [Hidden("next", "{{ next }}"), *(Hidden(name, value) for name, value in fields.items())]


class AuthenticatorCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        help_text="The code changes every 30 seconds. Spaces do not matter.",
        max_length=12,
        error_messages={"required": "Enter the 6-digit code shown in your authenticator app."},
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "form-control font-monospace w-auto",
                "size": "12",
            }
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # `helper` is for setting up an app; the sign-in page, beside a recovery code, uses the other.
        self.helper = form_helper(*_sent_back(), "code", submit_button("Confirm and continue"))
        self.verify_helper = form_helper(
            *_sent_back(method="app"), "code", submit_button("Continue")
        )

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())  # apps show "123 456"
        if not re.fullmatch(r"[0-9]{6}", code):
            raise forms.ValidationError(
                "Enter the 6-digit code shown in your authenticator app, for example 123456."
            )
        return code


class RecoveryCodeForm(forms.Form):
    recovery_code = forms.CharField(
        label="Recovery code",
        help_text="For example abcd2345. Capitals, spaces and dashes do not matter.",
        max_length=40,
        error_messages={"required": "Enter one of your recovery codes."},
        widget=forms.TextInput(
            attrs={
                # Recovery codes have letters as well as digits, so no numeric keyboard here.
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "class": "form-control font-monospace w-auto",
                "size": "12",
            }
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            *_sent_back(method="recovery"),
            "recovery_code",
            submit_button("Continue with a recovery code", css_class="btn-secondary"),
        )
