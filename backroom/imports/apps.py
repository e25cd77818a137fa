from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "backroom.imports"
    label = "imports"
    verbose_name = _("Imports and exports")

    def ready(self) -> None:
        from backroom.imports import permissions
        from backroom.imports.importers import load_all
        from backroom.web.navigation import NavItem, register_nav_item

        load_all()
        register_nav_item(
            NavItem(_("Imports"), "imports:index", "ti-file-import", permissions.IMPORTS_USE),
            before="web:audit",
        )
