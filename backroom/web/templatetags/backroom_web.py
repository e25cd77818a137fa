"""Small template helpers for Tabler forms."""

from typing import Any

from django import forms, template
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def tabler_widget(field: forms.BoundField) -> SafeString:
    """Render a form field's widget with Tabler's classes (and is-invalid when it has errors)."""
    widget = field.field.widget
    if isinstance(widget, forms.CheckboxInput):
        css = "form-check-input"
    elif isinstance(widget, forms.Select):
        css = "form-select"
    else:
        css = "form-control"
    if field.errors:
        css += " is-invalid"
    attrs: dict[str, Any] = {"class": css}
    return field.as_widget(attrs=attrs)
