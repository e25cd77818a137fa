"""The navigation: each entry shows only to users holding its permission somewhere."""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from backroom.accounts import permissions


@dataclass(frozen=True)
class NavItem:
    label: Promise | str
    url_name: str
    icon: str
    permission: str | None = None
    # A count shown next to the label (0: none), computed per request by the owning app.
    badge: Callable[[HttpRequest], int] | None = None


NAVIGATION: list[NavItem] = [
    NavItem(_("Home"), "web:home", "ti-home"),
    NavItem(_("Organisation"), "web:org_tree", "ti-sitemap", permissions.ORG_VIEW),
    NavItem(_("Users"), "web:users", "ti-users", permissions.ACCOUNTS_VIEW),
    NavItem(_("Webhooks"), "webhooks:endpoints", "ti-webhook", permissions.WEBHOOKS_VIEW),
    NavItem(_("Audit log"), "web:audit", "ti-history", permissions.AUDIT_VIEW),
    NavItem(_("API tokens"), "web:tokens", "ti-key", permissions.API_TOKENS_MANAGE),
]


def register_nav_item(item: NavItem, *, before: str | None = None) -> None:
    """Later apps add their entries; `before` places it ahead of an existing url name."""
    if any(existing.url_name == item.url_name for existing in NAVIGATION):
        return
    index = next((i for i, e in enumerate(NAVIGATION) if e.url_name == before), len(NAVIGATION))
    NAVIGATION.insert(index, item)
