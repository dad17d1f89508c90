"""Forms for the families pages: the import upload, the list filters, the erasure and a refused
erasure request."""

from pathlib import PurePath

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from portal.forms import FilterForm, form_helper, submit_button, uk_date_field
from schools.models import AuditEvent, Pupil

IMPORT_EXTENSIONS = {".csv", ".xlsx"}


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="Export file",
        error_messages={"required": "Choose the file to import.", "empty": "The selected file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = (
            "A CSV or Excel (.xlsx) file exported from your information system, "
            f"up to {filesizeformat(settings.PORTAL_IMPORT_MAX_FILE_BYTES)}."
        )
        self.helper = form_helper("file", submit_button("Upload and preview"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        extension = PurePath(upload.name).suffix.lower()
        if extension == ".xls":
            raise forms.ValidationError(
                "This is an old-style Excel .xls workbook. Save it as .xlsx or CSV and upload that."
            )
        if extension not in IMPORT_EXTENSIONS:
            raise forms.ValidationError("The selected file must be a CSV or an Excel (.xlsx) file.")
        limit = settings.PORTAL_IMPORT_MAX_FILE_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The selected file must be smaller than {filesizeformat(limit)} "
                f"(it is {filesizeformat(upload.size)})."
            )
        if upload.size == 0:
            raise forms.ValidationError("The selected file is empty.")
        return upload


class PupilFilterForm(FilterForm):
    STATUSES = [("on_roll", "On roll"), ("left", "Left"), ("all", "All")]

    COLUMNS = (("q", "col-sm-3"), ("year", "col-sm-2"), ("reg", "col-sm-2"), ("status", "col-sm-2"))
    BUTTON = "Show pupils"
    FORM_ATTRS = (("role", "search"), ("aria_label", "Find pupils"))

    q = forms.CharField(label="Name", required=False, max_length=100, widget=forms.SearchInput)
    year = forms.ChoiceField(label="Year group", required=False, choices=[("", "All years")] + Pupil.YearGroup.choices)
    reg = forms.ChoiceField(label="Registration group", required=False)
    status = forms.ChoiceField(label="Pupils", required=False, choices=STATUSES)

    def __init__(self, *args, reg_groups=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reg"].choices = [("", "All groups")] + [(g, g) for g in reg_groups]


class CarerFilterForm(FilterForm):
    STATUSES = [
        ("", "All carers"),
        ("eligible", "Asked to sign online"),
        ("paper", "Need a paper form"),
        ("not_eligible", "Not asked to sign"),
    ]

    COLUMNS = (("q", "col-sm-4"), ("status", "col-sm-3"))
    BUTTON = "Show carers"
    FORM_ATTRS = (("role", "search"), ("aria_label", "Find carers"))

    q = forms.CharField(
        label="Name or e-mail address", required=False, max_length=100, widget=forms.SearchInput
    )
    status = forms.ChoiceField(label="Show", required=False, choices=STATUSES)


class AuditFilterForm(FilterForm):
    COLUMNS = (("action", "col-sm-4"),)
    FORM_ATTRS = (("aria_label", "Filter the audit log"),)

    action = forms.ChoiceField(
        label="What was done", required=False, choices=[("", "Everything")] + AuditEvent.Action.choices
    )


class CarerEraseForm(forms.Form):
    reason = forms.CharField(
        label="Why are you erasing this carer's data?",
        help_text="For example, the request's reference and date. Do not write the carer's name: "
        "the reason is kept in the audit log.",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give the reason for erasing this carer's data."},
    )
    confirm = forms.BooleanField(
        label="I understand this cannot be undone",
        error_messages={"required": "Confirm that you understand this cannot be undone."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            "reason",
            "confirm",
            submit_button("Erase this carer's personal data", css_class="btn-danger"),
        )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for erasing this carer's data.")
        return reason


class ErasureRefusalForm(forms.Form):
    """A request to erase a carer's data that the school refuses, and why (recorded, not acted on)."""

    received_on = uk_date_field(
        label="Date the request was received",
        error_messages={"required": "Enter the date the request was received.", "invalid": "Enter a real date, like 22/11/2026."},
    )
    reason = forms.CharField(
        label="Why is the request refused?",
        help_text="For example, what the school must keep the data for, and the request's reference. "
        "Do not write the carer's name: the reason is kept in the audit log.",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give the reason for refusing the request."},
    )

    def __init__(self, *args, action: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            "received_on",
            "reason",
            submit_button("Record the refused request", css_class="btn-outline-secondary"),
            action=action,
        )

    def clean_received_on(self):
        received_on = self.cleaned_data["received_on"]
        if received_on > timezone.localdate():
            raise forms.ValidationError("The date the request was received must be today or in the past.")
        return received_on

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for refusing the request.")
        return reason
