"""Forms of the public verification page and the staff exports (evidence/verification.py and
evidence/exports.py hold the rules)."""

from crispy_forms.layout import Div, Field
from django import forms
from django.utils.translation import gettext_lazy as _

from evidence.exports import DeclarationFilters
from evidence.pdf import CODE_ALPHABET, CODE_LENGTH, normalise_code
from portal.forms import FilterForm, form_helper, submit_button, uk_date_field

VERIFY_MAX_BYTES = 10 * 1024 * 1024


class VerifyCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Verification code"),
        max_length=20,
        help_text=_("10 letters and digits, printed on the PDF, for example ABCDE-FGH23."),
        error_messages={"required": _("Enter the verification code printed on the PDF")},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            "code",
            submit_button(_("Check the code")),
            action="verification:verify",
            method="get",
            css_class="mb-4",
        )

    def clean_code(self):
        code = normalise_code(self.cleaned_data["code"])
        if len(code) != CODE_LENGTH or any(character not in CODE_ALPHABET for character in code):
            raise forms.ValidationError(_("A verification code is 10 letters and digits, like ABCDE-FGH23"))
        return code


class VerifyFileForm(forms.Form):
    file = forms.FileField(
        label=_("The declaration PDF"),
        help_text=_("A PDF file of 10 MB or smaller. It is checked and not kept."),
        error_messages={"required": _("Choose the PDF file to check"), "empty": _("The file is empty")},
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper("file", submit_button(_("Check the PDF")), action="verification:verify")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > VERIFY_MAX_BYTES:
            raise forms.ValidationError(_("The file must be 10 MB or smaller"))
        return upload


class ExportForm(forms.Form):
    """Which declarations to put in a ZIP of PDFs (evidence.exports.DeclarationFilters)."""

    version = forms.TypedChoiceField(label="Version", required=False, coerce=int, empty_value=None)
    year_group = forms.ChoiceField(label="Year group", required=False)
    reg_group = forms.ChoiceField(label="Registration group", required=False)
    signed_from = uk_date_field(
        label="Signed on or after",
        required=False,
        error_messages={"invalid": "Enter a real date, like 1/9/2026"},
    )
    signed_to = uk_date_field(
        label="Signed on or before",
        required=False,
        error_messages={"invalid": "Enter a real date, like 31/7/2027"},
    )

    def __init__(self, *args, versions, year_groups, reg_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", "All versions")] + [(v, f"Version {v}") for v in versions]
        self.fields["year_group"].choices = [("", "All year groups")] + list(year_groups)
        self.fields["reg_group"].choices = [("", "All registration groups")] + [(r, r) for r in reg_groups]
        columns = (Field(name, wrapper_class="col-sm-6 col-lg-4") for name in self.fields)
        self.helper = form_helper(
            Div(*columns, css_class="row g-3"),
            submit_button("Make the ZIP", css_class="btn-primary mt-3"),
            css_class="mb-4",
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("signed_from"), cleaned.get("signed_to")
        if start and end and end < start:
            self.add_error("signed_to", "The end date must be on or after the start date")
        return cleaned

    def filters(self):
        data = self.cleaned_data
        return DeclarationFilters(
            version=data.get("version"),
            year_group=data.get("year_group") or "",
            reg_group=data.get("reg_group") or "",
            signed_from=data.get("signed_from"),
            signed_to=data.get("signed_to"),
        )


class RegisterFilterForm(FilterForm):
    """Which register to download (?version=N, ?year=, ?reg=): the version in force and every
    carer unless asked otherwise. A value that cannot be one is ignored."""

    version = forms.IntegerField(required=False, min_value=1)
    year = forms.CharField(required=False, max_length=2)
    reg = forms.CharField(required=False, max_length=40)

    def filters(self) -> DeclarationFilters:
        version = self.value("version")
        return DeclarationFilters(version=version or None, year_group=self.value("year"), reg_group=self.value("reg"))
