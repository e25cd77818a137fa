"""Template filters of the dashboards: a KPI value as shown (see display.py)."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from backroom.dashboards.display import kpi_number

register = template.Library()


@register.filter
def kpi(value: Decimal | None, unit: str) -> str:
    """`{{ card.value|kpi:card.unit }}`: 12,345.60 · 30.5 % · 42 · 95 min · 6.5 d · —."""
    number = kpi_number(value, unit)
    if number is None:
        return "—"
    places = {"money": "2g", "percent": "1g", "days": "1g"}.get(unit, "0g")
    suffix = {"percent": " %", "minutes": " " + _("min"), "days": " " + _("days")}
    return f"{floatformat(number, places)}{suffix.get(unit, '')}"


@register.filter
def sparkline(series: list[tuple[object, Decimal | None]]) -> str:
    """A small inline SVG line of a row's series (drawn on the server: twenty rows of
    sparklines cost a phone nothing)."""
    values = [float(value) for _key, value in series if value is not None]
    if len(series) < 2 or not values:
        return ""
    width, height = 120, 28
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    step = width / (len(series) - 1)
    points = []
    for index, (_key, value) in enumerate(series):
        if value is None:
            continue
        y = height - 2 - (float(value) - low) / spread * (height - 4)
        points.append(f"{index * step:.1f},{y:.1f}")
    svg = (
        f'<svg class="dashboards-sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-hidden="true">'
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" '
        f'points="{" ".join(points)}"/></svg>'
    )
    return mark_safe(svg)  # noqa: S308  (numbers only)
