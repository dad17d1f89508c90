from django import forms

from api.models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, label="What will use this key?", help_text="e.g. \"Arbor nightly import\"")
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What it may do",
        error_messages={"required": "Choose at least one thing the key may do."},
    )
