from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "backroom.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

    def ready(self) -> None:
        from backroom.inventory import events, periods, permissions  # noqa: F401  (registration)
        from backroom.inventory.services import waste  # noqa: F401  (its approval decision hook)
        from backroom.web.navigation import NavItem, register_nav_item

        for item in [
            NavItem(_("Stock"), "inventory:on_hand", "ti-box", permissions.INVENTORY_VIEW),
            NavItem(
                _("Counts"), "inventory:counts", "ti-clipboard-check", permissions.INVENTORY_COUNT
            ),
            NavItem(_("Waste"), "inventory:waste_list", "ti-trash", permissions.INVENTORY_VIEW),
            NavItem(
                _("Transfers"), "inventory:transfer_list", "ti-truck", permissions.INVENTORY_VIEW
            ),
            NavItem(
                _("Production"),
                "inventory:production_list",
                "ti-chef-hat",
                permissions.INVENTORY_VIEW,
            ),
            NavItem(
                _("Stock periods"),
                "inventory:periods",
                "ti-calendar-check",
                permissions.INVENTORY_VIEW,
            ),
            NavItem(
                _("Actual vs theoretical"),
                "inventory:avt",
                "ti-chart-bar",
                permissions.INVENTORY_VIEW,
            ),
        ]:
            register_nav_item(item, before="web:audit")
