"""Forms of the sending pages: who to invite, and a carer asking for a new link."""

from crispy_forms.layout import HTML, Field
from django import forms
from django.utils.translation import gettext_lazy as _

from portal.forms import form_helper, submit_button
from schools.selectors import eligible_carers
from sending import invitations


class NewLinkForm(forms.Form):
    email = forms.EmailField(
        label=_("Your e-mail address"),
        max_length=254,
        help_text=_("The address your child's school has for you."),
        error_messages={
            "required": _("Enter your e-mail address"),
            "invalid": _("Enter an e-mail address in the correct format, like name@example.com"),
        },
        widget=forms.EmailInput(attrs={"autocomplete": "email", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper(
            "email", submit_button(_("Send me a new link")), action="new_link:ask"
        )


class AudienceForm(forms.Form):
    """Who to invite. The sub-choice that goes with the chosen audience is required."""

    audience = forms.ChoiceField(
        label="Who should get an invitation?",
        choices=[
            ("all-unsigned", "Everyone who has not signed yet"),
            ("year", "A year group"),
            ("reg", "A registration group"),
            ("carer", "One parent or carer"),
        ],
        initial="all-unsigned",
        widget=forms.RadioSelect,
    )
    year = forms.ChoiceField(label="Year group", required=False)
    reg = forms.ChoiceField(label="Registration group", required=False)
    carer = forms.TypedChoiceField(label="Parent or carer", coerce=int, required=False, empty_value=None)

    def __init__(self, *args, school, **kwargs):
        super().__init__(*args, **kwargs)
        years, regs = invitations.audience_choices(school)
        self.fields["year"].choices = [("", "Choose a year group")] + years
        self.fields["reg"].choices = [("", "Choose a registration group")] + [(r, r) for r in regs]
        carers = eligible_carers(school).order_by("surname", "forename", "pk").values_list(
            "pk", "surname", "forename", "email"
        )
        self.fields["carer"].choices = [("", "Choose a parent or carer")] + [
            (pk, f"{surname}, {forename} ({email})") for pk, surname, forename, email in carers
        ]
        self.helper = form_helper(
            "audience",
            HTML(
                "<p>If you chose a year group, a registration group or one parent or carer, "
                "choose which:</p>"
            ),
            *(Field(name, wrapper_class="mb-3 col-md-6") for name in ("year", "reg", "carer")),
            submit_button("Continue"),
            HTML('<p class="mt-2">Nothing is sent until you confirm on the next page.</p>'),
        )

    def clean(self):
        data = super().clean()
        kind = data.get("audience")
        if kind in ("year", "reg", "carer") and data.get(kind) in (None, ""):
            self.add_error(kind, f"{self.fields[kind].choices[0][1]}, or choose a different option above.")
        return data

    def target(self):
        """The audience as invitations_send takes it."""
        kind = self.cleaned_data["audience"]
        return kind if kind == "all-unsigned" else (kind, self.cleaned_data[kind])

    def chosen_in_words(self) -> str:
        """Who was chosen, as the confirm page says it: "Year group: Year 5"."""
        kind = self.cleaned_data["audience"]
        if kind == "all-unsigned":
            return "Everyone who has not signed yet"
        chosen = dict(self.fields[kind].choices).get(self.cleaned_data[kind], self.cleaned_data[kind])
        prefix = {"year": "Year group: ", "reg": "Registration group: ", "carer": "One parent or carer: "}[kind]
        return prefix + str(chosen)
