"""Inventory permission codes."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

INVENTORY_VIEW = register_permission("inventory.view", _("See stock on hand, moves and lots"))
INVENTORY_MOVE = register_permission(
    "inventory.move", _("Receive, consume, adjust, transfer and produce stock")
)
INVENTORY_MANAGE = register_permission(
    "inventory.manage", _("Manage stock locations; correct receipt costs; reverse moves")
)
INVENTORY_COUNT = register_permission("inventory.count", _("Count stock and post counts"))
