from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "backroom.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards and alerts")

    def ready(self) -> None:
        from backroom.dashboards import permissions
        from backroom.web.navigation import NAVIGATION, NavItem, register_nav_item

        # First after Home.
        after_home = NAVIGATION[1].url_name if len(NAVIGATION) > 1 else None
        register_nav_item(
            NavItem(_("Dashboard"), "dashboards:hq", "ti-dashboard", permissions.DASHBOARDS_VIEW),
            before=after_home,
        )
