from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "backroom.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from backroom.catalog import events, permissions  # noqa: F401  (register codes and events)
        from backroom.web.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem(_("Catalog"), "catalog:items", "ti-tools-kitchen-2", permissions.CATALOG_VIEW),
            before="web:audit",
        )
