"""Forms for staff accounts, organisation settings and members: shape here, rules in the services."""

from django import forms
from django.contrib.auth import password_validation

from portal.forms import form_helper, submit_button
from schools.models import StaffRole


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        error_messages={"required": "Enter the e-mail address to send the invitation to.",
                        "invalid": "Enter an e-mail address like name@school.sch.uk."},
        widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    role = forms.ChoiceField(label="Role", widget=forms.RadioSelect,
                             error_messages={"required": "Choose the role they will have."})
    job_title = forms.CharField(label="Job title (optional)", required=False, max_length=120,
                                help_text="Shown under the headteacher's name in covering letters.")

    def __init__(self, *args, roles, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [(role, StaffRole.Role(role).label) for role in roles]
        if len(roles) == 1:
            self.fields["role"].initial = roles[0]
        self.helper = form_helper("email", "role", "job_title", submit_button("Send the invitation"))


class AcceptForm(forms.Form):
    """A new account from an invitation: a name and a password (the address is the one invited)."""

    first_name = forms.CharField(label="First name", max_length=150,
                                 error_messages={"required": "Enter your first name."},
                                 widget=forms.TextInput(attrs={"autocomplete": "given-name"}))
    last_name = forms.CharField(label="Last name", max_length=150,
                                error_messages={"required": "Enter your last name."},
                                widget=forms.TextInput(attrs={"autocomplete": "family-name"}))
    password1 = forms.CharField(
        label="Choose a password",
        help_text="At least 12 characters; not a common password. A few unrelated words work well.",
        strip=False,
        error_messages={"required": "Choose a password."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Type the password again",
        strip=False,
        error_messages={"required": "Type the password again."},
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email
        self.helper = form_helper("first_name", "last_name", "password1", "password2",
                                  submit_button("Create my account"))

    def clean(self):
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if one and two and one != two:
            self.add_error("password2", "The two passwords are not the same. Type them again.")
        elif one:
            from django.contrib.auth import get_user_model

            candidate = get_user_model()(
                username=self.email, email=self.email,
                first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
            )
            try:
                password_validation.validate_password(one, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class RoleChangeForm(forms.Form):
    role = forms.ChoiceField(
        label="Role",
        choices=[(StaffRole.Role.HEADTEACHER, "Headteacher"), (StaffRole.Role.OFFICE, "Office staff")],
    )


class SettingsForm(forms.ModelForm):
    """The organisation's settings; the logo is read here and checked, re-drawn, in the service."""

    logo_upload = forms.FileField(
        label="Logo (optional)",
        required=False,
        help_text="A PNG or JPEG file, up to 2 MB. It is shown on your pages, e-mails and declaration PDFs.",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg"}),
    )
    remove_logo = forms.BooleanField(label="Remove the current logo", required=False)

    class Meta:
        from schools.models import Organisation

        model = Organisation
        fields = [
            "name", "brand_colour", "email", "phone", "address", "reminder_days", "max_reminders",
            "link_valid_days", "declaration_retention_years", "invite_starters_automatically",
            "sign_in_provider", "staff_email_domain", "sending_hours_from", "sending_hours_until", "sending_days",
        ]
        labels = {
            "name": "Name, as parents see it",
            "brand_colour": "Brand colour",
            "email": "Contact e-mail",
            "phone": "Telephone",
            "address": "Postal address",
        }
        help_texts = {
            "brand_colour": "# and six hex digits, e.g. #1d4f91. White text on it must be readable (4.5:1 contrast).",
            "email": "Parents' replies to the portal's e-mails go here.",
            "phone": "In covering letters ({contact_number}) and at the foot of e-mails.",
            "address": "At the foot of e-mails. One line per line of the address.",
        }
        widgets = {
            "address": forms.Textarea(attrs={"rows": 4}),
            "sending_hours_from": forms.TimeInput(format="%H:%M", attrs={"class": "w-auto", "size": "6"}),
            "sending_hours_until": forms.TimeInput(format="%H:%M", attrs={"class": "w-auto", "size": "6"}),
        }

    # The days invitations and reminders may go, stored as ISO weekday digits (schools.models).
    sending_days = forms.TypedMultipleChoiceField(
        label="On these days",
        choices=[(str(number), day) for number, day in enumerate(
            ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"], start=1)],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one day for invitations and reminders to go out."},
    )

    def __init__(self, *args, fields: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in fields and name not in ("logo_upload", "remove_logo"):
                del self.fields[name]
        if not self.instance.logo:
            del self.fields["remove_logo"]
        if "sending_days" in self.fields and not self.is_bound:
            self.initial["sending_days"] = list(self.instance.sending_days)
        self.helper = form_helper(*self.fields, submit_button("Save the settings"))

    def clean_sending_days(self) -> str:
        return "".join(sorted(self.cleaned_data["sending_days"]))

    def clean_logo_upload(self):
        upload = self.cleaned_data.get("logo_upload")
        if not upload:
            return None
        from schools.branding import LOGO_MAX_UPLOAD_BYTES

        if upload.size > LOGO_MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The logo is larger than 2 MB. Use a smaller file.")
        return upload.read()


class MemberAddForm(forms.Form):
    school = forms.SlugField(
        label="The school's web address name",
        help_text="The part after /schools/ in its page's address, e.g. whitefield-primary.",
        error_messages={"required": "Enter the school's web address name, e.g. whitefield-primary."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper("school", submit_button("Add the school", name="action", value="add"))


class MemberCreateForm(forms.Form):
    name = forms.CharField(label="School name", max_length=200,
                           error_messages={"required": "Enter the school's name."})
    headteacher_email = forms.EmailField(
        label="Its headteacher's e-mail address",
        help_text="They get an invitation to set up their account.",
        error_messages={"required": "Enter the headteacher's e-mail address.",
                        "invalid": "Enter an e-mail address like head@school.sch.uk."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = form_helper("name", "headteacher_email",
                                  submit_button("Create the school and invite its headteacher", name="action", value="create"))
