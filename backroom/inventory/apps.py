from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "backroom.inventory"
    label = "inventory"
    verbose_name = _("Inventory")

    def ready(self) -> None:
        from backroom.inventory import events, permissions  # noqa: F401  (registration)
