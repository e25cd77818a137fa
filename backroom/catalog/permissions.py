"""Catalog permissions. Catalog master data is chain-wide: see docs/catalog.md for who may do what."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

CATALOG_VIEW = register_permission(
    "catalog.view", _("See items, units, recipes, menu prices and cost cards")
)
CATALOG_MANAGE = register_permission(
    "catalog.manage", _("Change items, units, recipes, modifiers and menu prices")
)
