"""Forms parse what people type; the services decide whether it is allowed and valid."""

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from backroom.accounts.models import Role
from backroom.org.choices import NodeKind, SiteStatus
from backroom.org.models import OrgNode


class NodeChoiceField(forms.ModelChoiceField):
    """An org node, shown indented by depth and with its code."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{'— ' * obj.depth}{obj.name} ({obj.code})"


class RoleChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        from django.utils.translation import gettext

        return gettext(obj.name)


def posted_id(value: str | None) -> int | None:
    """An object id as a form or query string carries it; None when it is not one (blank,
    not a number, zero or beyond what a JavaScript client can hold)."""
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 < number < 2**53 else None


def _blank(choices: Any) -> list[tuple[str, Any]]:
    return [("", "—"), *choices]


class SiteForm(forms.Form):
    """Edit a site's name, clock, address and status."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    time_zone = forms.CharField(label=_("Time zone"), max_length=64, required=False)
    cutoff_hour = forms.IntegerField(
        label=_("Business-day cut-off hour"),
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": 23}),
    )
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    latitude = forms.DecimalField(label=_("Latitude"), required=False, decimal_places=6)
    longitude = forms.DecimalField(label=_("Longitude"), required=False, decimal_places=6)
    opening_date = forms.DateField(
        label=_("Opening date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(label=_("Status"), choices=SiteStatus.choices)
    reason = forms.CharField(label=_("Reason for the change"), max_length=500, required=False)


class NodeForm(forms.Form):
    """A new node of the tree, with its entity or site details."""

    kind = forms.ChoiceField(
        label=_("Kind"), choices=[c for c in NodeKind.choices if c[0] != NodeKind.GROUP]
    )
    parent = NodeChoiceField(label=_("Parent"), queryset=OrgNode.objects.none())
    code = forms.CharField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name"), max_length=200)
    base_currency = forms.CharField(
        label=_("Base currency"), max_length=3, required=False, help_text=_("Legal entities only")
    )
    country = forms.CharField(
        label=_("Country"), max_length=2, required=False, help_text=_("Legal entities only")
    )
    tax_id = forms.CharField(label=_("Tax id"), max_length=40, required=False)
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, initial="Asia/Shanghai", required=False
    )
    cutoff_hour = forms.IntegerField(
        label=_("Business-day cut-off hour"),
        initial=4,
        required=False,
        widget=forms.NumberInput(attrs={"min": 0, "max": 23}),
    )
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)
    opening_date = forms.DateField(
        label=_("Opening date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    status = forms.ChoiceField(
        label=_("Status"), choices=SiteStatus.choices, initial=SiteStatus.OPEN, required=False
    )
    brand_code = forms.ChoiceField(label=_("Brand"), required=False, choices=[])

    def __init__(self, *args: Any, parents: QuerySet[OrgNode], brands: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = parents  # type: ignore[attr-defined]
        self.fields["brand_code"].choices = _blank(  # type: ignore[attr-defined]
            [(b.code, f"{b.name} ({b.code})") for b in brands]
        )


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    language = forms.ChoiceField(
        label=_("Language"), required=False, choices=_blank(settings.LANGUAGES)
    )
    role = RoleChoiceField(label=_("Role"), queryset=Role.objects.none())
    node = NodeChoiceField(label=_("At"), queryset=OrgNode.objects.none())

    def __init__(self, *args: Any, roles: QuerySet[Role], nodes: QuerySet[OrgNode], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles  # type: ignore[attr-defined]
        self.fields["node"].queryset = nodes  # type: ignore[attr-defined]


class PasswordForm(forms.Form):
    password = forms.CharField(
        label=_("New password"),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class GrantForm(forms.Form):
    role = RoleChoiceField(label=_("Role"), queryset=Role.objects.none())
    node = NodeChoiceField(label=_("At"), queryset=OrgNode.objects.none())

    def __init__(self, *args: Any, roles: QuerySet[Role], nodes: QuerySet[OrgNode], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles  # type: ignore[attr-defined]
        self.fields["node"].queryset = nodes  # type: ignore[attr-defined]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    role = RoleChoiceField(label=_("Role"), queryset=Role.objects.none())
    node = NodeChoiceField(label=_("At"), queryset=OrgNode.objects.none())
    expires_in_days = forms.IntegerField(
        label=_("Expires in (days)"), initial=90, widget=forms.NumberInput(attrs={"min": 1})
    )

    def __init__(self, *args: Any, roles: QuerySet[Role], nodes: QuerySet[OrgNode], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = roles  # type: ignore[attr-defined]
        self.fields["node"].queryset = nodes  # type: ignore[attr-defined]


class AuditFilterForm(forms.Form):
    """The audit browser's filters (GET)."""

    action = forms.ChoiceField(label=_("Action"), required=False, choices=[])
    target_type = forms.ChoiceField(label=_("Object type"), required=False, choices=[])
    actor = forms.CharField(label=_("Actor"), max_length=150, required=False)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, actions: list[str], target_types: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = _blank([(a, a) for a in actions])  # type: ignore[attr-defined]
        self.fields["target_type"].choices = _blank([(t, t) for t in target_types])  # type: ignore[attr-defined]
