"""Forms for signing, declining, asking for a new link and recording a paper form.

They parse input and word errors in plain English; the rules themselves are in
declarations/services.py.
"""

from crispy_forms.layout import HTML, Field, Hidden
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from declarations import services
from portal.forms import FilterForm, form_helper, submit_button, uk_date_field


def _version_shown():
    """The version the page shows, not the one posted: a page shown again with errors after the
    school published a new version must ask for the version now on it. (A new object each time:
    crispy writes the rendered value into it.)"""
    return Hidden("version", "{{ version.pk }}")


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label=_("Your full name"),
        help_text=_("Type your name as you would sign it. This is your signature."),
        max_length=200,
        error_messages={
            "required": _("Type your full name to sign"),
            "max_length": _("Your name must be 200 characters or fewer"),
        },
        widget=forms.TextInput(attrs={"autocomplete": "name", "spellcheck": "false"}),
    )
    agreed = forms.BooleanField(
        label=_("I agree"),
        help_text=_("I have read the code and make the declaration above."),
        error_messages={"required": _("Tick the box to confirm you agree")},
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            _version_shown(),
            "typed_name",
            Field("agreed", wrapper_class="mb-4"),
            submit_button(_("Sign the declaration"), css_class="btn-primary btn-lg"),
            action="signing:sign",
        )

    def clean_typed_name(self):
        name = " ".join(self.cleaned_data["typed_name"].split())
        if not name:
            raise forms.ValidationError(self.fields["typed_name"].error_messages["required"])
        return name


class DeclineForm(forms.Form):
    message = forms.CharField(
        label=_("Your message for the school (optional)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"max_length": _("Your message must be 2,000 characters or fewer")},
        help_text=_("For example, why you do not want to sign, or a question for the school."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            _version_shown(),
            "message",
            submit_button(_("Tell the school I do not want to sign")),
            action="signing:decline",
        )


class PaperForm(forms.Form):
    """A declaration signed on paper, recorded by office staff."""

    signed_on = uk_date_field(
        label="Date signed",
        help_text="The date the carer wrote on the form.",
        error_messages={"required": "Enter the date signed", "invalid": "Enter a real date, like 22/11/2026"},
    )
    name_as_written = forms.CharField(
        label="Name as written on the form",
        max_length=200,
        error_messages={"required": "Enter the name as the carer wrote it on the form"},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    children = forms.ModelMultipleChoiceField(
        label="Children named on the form",
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose the children named on the form"},
    )
    scan = forms.FileField(
        label="Scan or photo of the signed form",
        help_text="A PDF, JPEG or PNG file, 10 MB or smaller.",
        error_messages={"required": "Upload a scan or photo of the signed form", "empty": "The file is empty"},
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,image/jpeg,image/png"}),
    )

    def __init__(self, *args, children, named_by_default, **kwargs):
        """`children`: the carer's children on roll to choose from; `named_by_default`: those
        ticked at first (the ones the carer has parental responsibility for)."""
        super().__init__(*args, **kwargs)
        self.fields["children"].queryset = children
        self.fields["children"].initial = [child.pk for child in named_by_default]
        self.helper = form_helper(
            "signed_on",
            "name_as_written",
            "children",
            "scan",
            submit_button("Record the paper form"),
            HTML(
                """<a class="ms-3" href="{% url 'declarations_staff:status' school.slug %}">"""
                "Cancel</a>"
            ),
        )

    def clean_signed_on(self):
        signed_on = self.cleaned_data["signed_on"]
        if signed_on > timezone.localdate():
            raise forms.ValidationError("The date signed cannot be in the future")
        return signed_on

    def clean_scan(self):
        scan = self.cleaned_data["scan"]
        if scan.size > services.PAPER_SCAN_MAX_BYTES:
            raise forms.ValidationError("The file must be 10 MB or smaller")
        if services.paper_scan_kind(scan) is None:
            raise forms.ValidationError("The file must be a PDF, JPEG or PNG")
        return scan


class StatusFilterForm(FilterForm):
    """The status page's filters: carers of pupils in one year group and/or registration group.
    The choices are the groups with pupils on roll (schools.selectors.groups_on_roll)."""

    COLUMNS = (("year", "col-auto"), ("reg", "col-auto"))
    FORM_ATTRS = (("aria_label", "Show the carers of some pupils"),)
    CSS_CLASS = "d-print-none"

    year = forms.ChoiceField(label="Year group", required=False)
    reg = forms.ChoiceField(label="Registration group", required=False)

    def __init__(self, *args, year_groups, reg_groups, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "All year groups"), *year_groups]
        self.fields["reg"].choices = [("", "All registration groups")] + [(group, group) for group in reg_groups]
