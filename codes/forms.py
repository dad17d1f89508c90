import datetime

from crispy_forms.layout import Fieldset
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from codes.models import CodeVersion, VersionTranslation
from codes.services import EDITABLE_FIELDS, add_one_year
from portal.forms import (
    UK_DATE_FORMATS,
    UK_DATE_HINT,
    FilterForm,
    UKDateInput,
    form_helper,
    submit_button,
    uk_date_field,
)


class DraftForm(forms.ModelForm):
    """Everything a headteacher can change in a draft."""

    class Meta:
        model = CodeVersion
        fields = list(EDITABLE_FIELDS)
        widgets = {
            "body": forms.Textarea(attrs={"rows": 24}),
            "declaration_statement": forms.Textarea(attrs={"rows": 8}),
            "covering_letter": forms.Textarea(attrs={"rows": 12}),
            "revision_note": forms.Textarea(attrs={"rows": 3}),
            "approved_on": UKDateInput(),
        }
        help_texts = {
            "revision_note": "A short, plain-English summary of what changed, shown to parents.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["body"].label = "The code"
        self.fields["document_version"].label = "Version number, as you write it"
        self.fields["approved_on"].input_formats = UK_DATE_FORMATS
        self.fields["approved_on"].help_text = UK_DATE_HINT
        # Labels carry no asterisk for a required field: the optional ones say so instead.
        for field in self.fields.values():
            if not field.required:
                field.label = f"{field.label} (optional)"
        self.helper = form_helper(
            Fieldset("Text", "title", "body", "declaration_statement", "covering_letter"),
            Fieldset(
                "Document control",
                "author_name",
                "author_job_title",
                "document_version",
                "approved_by",
                "approved_on",
                "links_to",
                "revision_note",
            ),
            submit_button("Save draft"),
        )


class PublishForm(forms.Form):
    effective_from = uk_date_field(
        label="Effective from",
        help_text="The date this version comes into force. It can be in the future.",
    )
    review_due = uk_date_field(
        label="Review due",
        help_text="Usually a year after the effective date.",
    )
    requires_signing = forms.TypedChoiceField(
        label="Must parents and carers sign again?",
        choices=[
            ("yes", "Yes — this is a real change to what parents agree to"),
            ("no", "No — this only corrects typing or layout; existing declarations stay current"),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether parents must sign again."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["effective_from"].initial = today
        self.fields["review_due"].initial = add_one_year(today)
        self.helper = form_helper(
            "effective_from",
            "review_due",
            "requires_signing",
            submit_button("Publish this version"),
        )

    def clean(self):
        cleaned = super().clean()
        effective, review = cleaned.get("effective_from"), cleaned.get("review_due")
        if effective and review and review <= effective:
            self.add_error("review_due", "The review date must be after the effective date.")
        if effective and effective < timezone.localdate() - datetime.timedelta(days=366):
            self.add_error("effective_from", "The effective date cannot be more than a year ago.")
        return cleaned


class ReviewForm(forms.Form):
    """The annual review found no change needed: an optional note, and the date it answers."""

    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example, who reviewed it and when the governors agreed.",
    )
    review_due = forms.DateField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The page writes the <form> element: its action names the code, which this form never sees.
        self.helper = form_helper(
            "review_due",
            "note",
            submit_button("Record the review: no change needed", css_class="btn-outline-primary"),
            tag=False,
        )


class CompareForm(FilterForm):
    """Which two versions the compare page sets side by side (?from=&to=); a number that is not
    one of the code's versions is ignored. The view fills in the latest two where none is chosen."""

    COLUMNS = (("from", "col-auto"), ("to", "col-auto"))
    BUTTON = "Compare"
    FORM_ATTRS = (("aria_label", "Choose the versions to compare"),)
    CSS_CLASS = "d-print-none"

    def __init__(self, *args, numbers: list[int], **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(number), f"Version {number}") for number in numbers]
        self.fields["from"] = forms.TypedChoiceField(label="Compare", choices=choices, coerce=int, required=False)
        self.fields["to"] = forms.TypedChoiceField(label="with", choices=choices, coerce=int, required=False)


class TranslationForm(forms.ModelForm):
    """A published version's code and declaration in another language (codes/translations.py)."""

    class Meta:
        model = VersionTranslation
        fields = ["title", "body", "declaration_statement"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 24}),
            "declaration_statement": forms.Textarea(attrs={"rows": 8}),
        }
        labels = {"body": "The code", "declaration_statement": "Declaration statement"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper("title", "body", "declaration_statement", submit_button("Save the translation"))


class DirectorySearchForm(FilterForm):
    """The public directory's search (?q=): part of a school's or association's name."""

    COLUMNS = (("q", "col"),)
    BUTTON = _("Search")
    FORM_ATTRS = (("role", "search"), ("aria_label", _("Find your school")))
    CSS_CLASS = "search-form"

    q = forms.CharField(
        label=_("School or association name"),
        required=False,
        max_length=100,
        widget=forms.SearchInput(attrs={"autocomplete": "off"}),
    )
