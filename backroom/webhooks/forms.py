"""Page forms: they parse input only; the services validate and report every problem at once."""

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _


class EndpointForm(forms.Form):
    node = forms.TypedChoiceField(label=_("Org node"), coerce=int, required=False)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    url = forms.CharField(
        label=_("URL"),
        max_length=2000,
        required=False,
        help_text=_("http:// or https://; it receives a POST for each event."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Event types"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("“All events” includes event types added later."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        nodes: list[tuple[int, str]],
        event_types: list[str],
        with_node: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if with_node:
            cast(forms.ChoiceField, self.fields["node"]).choices = [("", "—"), *nodes]
        else:
            del self.fields["node"]
        for name, field in self.fields.items():
            if name == "node":
                field.widget.attrs["class"] = "form-select"
            elif name in {"name", "url", "description"}:
                field.widget.attrs["class"] = "form-control"
            elif name in {"event_types", "is_active"}:
                field.widget.attrs["class"] = "form-check-input"
        self.fields["url"].widget.attrs["inputmode"] = "url"
        cast(forms.ChoiceField, self.fields["event_types"]).choices = [
            ("*", _("All events")),
            *[(event_type, event_type) for event_type in event_types],
        ]

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        """Attach a service's field errors (node_id → node) to the form."""
        for field, messages in errors.items():
            name = "node" if field == "node_id" else field
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
