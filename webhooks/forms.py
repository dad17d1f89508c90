from django import forms


class EndpointForm(forms.Form):
    url = forms.URLField(max_length=500, label="Address to send events to", assume_scheme="https")
    description = forms.CharField(max_length=200, required=False, label="What receives them (optional)")
    events = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Events",
        error_messages={"required": "Choose at least one event."},
    )

    def __init__(self, *args, events_offered, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["events"].choices = events_offered
