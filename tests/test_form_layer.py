"""The one form layer (portal/forms.py, templates/bootstrap5/field.html and
templates/partials/error_summary.html): how every form in the portal shows its fields and errors."""

from html.parser import HTMLParser

import pytest
from django import forms
from django.template import RequestContext, Template
from django.test import RequestFactory

from portal.forms import form_helper, submit_button


class EveryKindOfField(forms.Form):
    name = forms.CharField(label="Your full name", help_text="Type it as you would sign it.")
    agreed = forms.BooleanField(label="I agree", help_text="I have read the code.")
    colour = forms.ChoiceField(
        label="Colour", choices=[("r", "Red"), ("b", "Blue")], widget=forms.RadioSelect
    )
    children = forms.MultipleChoiceField(
        label="Children named", choices=[("a", "Amy"), ("b", "Ben")], widget=forms.CheckboxSelectMultiple
    )
    year = forms.ChoiceField(label="Year group", choices=[("", "Choose a year group"), ("3", "Year 3")])
    scan = forms.FileField(label="Scan of the form")
    note = forms.CharField(label="Note (optional)", required=False, widget=forms.Textarea)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(*self.fields, submit_button("Send it"))

    def clean(self):
        raise forms.ValidationError("The school is closed for the summer.")


PAGE = Template(
    "{% load crispy_forms_tags %}"
    '{% include "partials/error_summary.html" %}<h1>A page</h1>{% crispy form %}'
)


class Elements(HTMLParser):
    """Every element's tag and attributes, in document order, and the text of the whole page."""

    def __init__(self, html):
        super().__init__()
        self.elements, self.text = [], []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def by_id(self, element_id):
        (found,) = [attrs for _, attrs in self.elements if attrs.get("id") == element_id]
        return found

    def position(self, **wanted):
        return next(i for i, (_, attrs) in enumerate(self.elements) if wanted.items() <= attrs.items())


def render(data=None):
    request = RequestFactory().post("/") if data is not None else RequestFactory().get("/")
    form = EveryKindOfField(data)
    form.is_valid()
    html = PAGE.render(RequestContext(request, {"form": form}))
    return html, Elements(html)


def summary_links(page):
    return [
        attrs["href"]
        for tag, attrs in page.elements
        if tag == "a" and attrs.get("href", "").startswith("#")
    ]


def test_a_form_sent_empty_lists_every_error_at_the_top_each_linking_to_its_field():
    html, page = render({})
    assert html.index("There is a problem") < html.index("<h1>")
    links = summary_links(page)
    fields = ["name", "agreed", "colour", "children", "year", "scan"]
    assert links == [f"#id_{name}" for name in fields]
    for link in links:
        page.by_id(link[1:])  # the element the link goes to is on the page, once
    # The form-wide error is shown once, in the summary; a hidden field's error means a stale page.
    assert html.count("The school is closed for the summer.") == 1
    assert html.count("This page was out of date. Check the details below and try again.") == 1
    # Each field's own error is shown twice: in the summary and beside the field.
    assert html.count("This field is required.") == 2 * len(fields)


def test_a_field_reads_label_hint_error_then_the_box_and_the_box_points_to_its_hint_and_error():
    html, page = render({})
    order = [
        page.position(**{"for": "id_name"}),
        page.position(id="id_name_helptext"),
        page.position(id="id_name_error"),
        page.position(id="id_name"),
    ]
    assert order == sorted(order)
    box = page.by_id("id_name")
    assert box["aria-describedby"] == "id_name_helptext id_name_error"
    assert box["aria-invalid"] == "true" and "is-invalid" in box["class"]
    assert "Error: This field is required." in " ".join("".join(page.text).split())
    # Required fields carry no asterisk: optional ones say so in their label.
    assert "*" not in "".join(page.text) and "asteriskField" not in html


@pytest.mark.parametrize("name", ["colour", "children"])
def test_a_group_of_boxes_is_a_fieldset_described_by_its_error(name):
    _, page = render({})
    tags = {attrs.get("id"): tag for tag, attrs in page.elements}
    assert tags[f"id_{name}"] == "fieldset"
    assert page.by_id(f"id_{name}")["aria-describedby"] == f"id_{name}_error"
    assert all("is-invalid" in page.by_id(f"id_{name}_{i}")["class"] for i in (0, 1))


def test_a_form_not_yet_sent_shows_no_error_and_the_buttons_it_was_given():
    html, page = render()
    assert "There is a problem" not in html and "aria-invalid" not in html
    assert page.by_id("id_name")["aria-describedby"] == "id_name_helptext"
    (form,) = [attrs for tag, attrs in page.elements if tag == "form"]
    assert "novalidate" in form  # every error is the portal's own, in plain English
    (button,) = [attrs for tag, attrs in page.elements if tag == "button"]
    assert button["type"] == "submit" and "Send it" in html
