from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "backroom.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards and alerts")

    def ready(self) -> None:
        from backroom.dashboards import permissions  # registration
        from backroom.web.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem(
                _("Today"), "dashboards:today", "ti-calendar-stats", permissions.DASHBOARDS_VIEW
            ),
            before="web:org_tree",  # right after Home: a store manager's first stop
        )
