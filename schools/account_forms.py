"""Forms for staff sign-in security: one field each, checked for shape here, for truth in schools/mfa.py."""

import re

from django import forms


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
