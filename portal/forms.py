"""The one form layer: every form renders through django-crispy-forms with a helper built here.

How a field looks (label, hint, error, then the control, as GOV.UK does) is written once, in
templates/bootstrap5/field.html; the error summary at the top of a page is written once, in
templates/partials/error_summary.html. A form class only says which fields go where and what its
buttons say.
"""

from crispy_forms.bootstrap import StrictButton
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Field, Layout
from django import forms


def form_helper(*layout, action="", method="post", tag=True, css_class="", **attrs) -> FormHelper:
    """A FormHelper for `layout` (field names and layout objects, buttons included).

    `action` is a URL or a URL name without arguments; left empty, the form goes back to the page
    it is on. The browser's own validation is switched off (novalidate) so that every error is the
    portal's, worded in plain English and listed in the error summary. With tag=False the
    template writes the <form> element itself (when its action needs arguments the form does not
    know). Further keyword arguments become attributes of the <form> element.
    """
    helper = FormHelper()
    helper.form_tag = tag
    helper.form_method = method
    if action:
        helper.form_action = action
    helper.form_class = css_class
    helper.attrs = {"novalidate": True}
    helper.attrs.update((name.replace("_", "-"), value) for name, value in attrs.items())
    helper.layout = Layout(*layout)
    return helper


def submit_button(text: str, *, css_class: str = "btn-primary", **attrs) -> StrictButton:
    """A <button type="submit"> saying `text`; attrs such as name and value go on the button."""
    return StrictButton(text, css_class=css_class, type="submit", **attrs)


class FilterForm(forms.Form):
    """A GET form of filters: a value that is not one of the choices is ignored, not an error.

    Subclasses say how wide each field's column is (COLUMNS: field name, Bootstrap column class),
    what the button says (BUTTON), the attributes of the <form> element, such as its
    accessible name (FORM_ATTRS), and any classes it needs beside the row's (CSS_CLASS).
    """

    COLUMNS: tuple[tuple[str, str], ...] = ()
    BUTTON = "Show"
    FORM_ATTRS: tuple[tuple[str, str], ...] = ()
    CSS_CLASS = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            *(Field(name, wrapper_class=width) for name, width in self.COLUMNS),
            Div(submit_button(self.BUTTON, css_class="btn-secondary"), css_class="col-auto"),
            method="get",
            css_class=f"row g-2 align-items-end mb-3 {self.CSS_CLASS}".strip(),
            **dict(self.FORM_ATTRS),
        )
        self.helper.label_class = "fw-normal"

    def add_error(self, field, error):
        # The field keeps no value (so it falls back to its default) and shows no error.
        if field is not None:
            self.cleaned_data.pop(field, None)

    def value(self, name: str, default: str = "") -> str:
        self.is_valid()
        return self.cleaned_data.get(name) or default
# Dates are typed day first, as in the UK, whatever the language of the browser: a native date
# picker (<input type="date">) shows the browser's own order, month first in a US-English one.
UK_DATE_FORMATS = ["%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d"]
UK_DATE_HINT = "Day, month, year, for example 22/11/2026."


class UKDateInput(forms.DateInput):
    """A text box for a date, shown as 22/11/2026."""

    input_type = "text"

    def __init__(self, attrs=None):
        defaults = {"inputmode": "numeric", "autocomplete": "off", "size": "12", "class": "w-auto"}
        super().__init__(attrs={**defaults, **(attrs or {})}, format="%d/%m/%Y")


def uk_date_field(*, help_text: str = "", **kwargs) -> forms.DateField:
    """A DateField typed day first (UK_DATE_FORMATS), its hint ending with an example."""
    hint = f"{help_text} {UK_DATE_HINT}".strip()
    return forms.DateField(input_formats=UK_DATE_FORMATS, widget=UKDateInput(), help_text=hint, **kwargs)
