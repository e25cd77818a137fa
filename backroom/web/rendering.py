"""One helper decides full page vs HTMX fragment."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partial: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render `template`, or only its `partial` (template#partial) for an HTMX request."""
    if partial and request.headers.get("HX-Request") == "true":
        return render(request, f"{template}#{partial}", context, status=status)
    return render(request, template, context, status=status)
