from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from backroom.web.navigation import NAVIGATION


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = []
    for item in NAVIGATION:
        if item.permission and not user.has_scoped_permission(item.permission):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        items.append(
            {
                "label": item.label,
                "url": url,
                "icon": item.icon,
                "active": request.path == url or (url != "/" and request.path.startswith(url)),
                "badge": item.badge(request) if item.badge else 0,
            }
        )
    return {"nav_items": items}
