from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PlanningConfig(AppConfig):
    name = "backroom.planning"
    label = "planning"
    verbose_name = _("Planning")

    def ready(self) -> None:
        from backroom.planning import permissions
        from backroom.web.navigation import NavItem, register_nav_item

        for item in [
            NavItem(
                _("Forecasts"), "planning:forecasts", "ti-chart-line", permissions.PLANNING_VIEW
            ),
            NavItem(
                _("Planning calendar"),
                "planning:calendar",
                "ti-calendar-event",
                permissions.PLANNING_VIEW,
            ),
        ]:
            register_nav_item(item, before="web:audit")
