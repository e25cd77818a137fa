from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "backroom.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards and alerts")

    def ready(self) -> None:
        from backroom.dashboards import permissions
        from backroom.dashboards.selectors_alerts import unread_badge
        from backroom.web.navigation import NavItem, register_nav_item

        # The notification centre (badge: alerts not resolved that the user has not opened).
        register_nav_item(
            NavItem(
                _("Alerts"),
                "dashboards:alerts",
                "ti-alert-triangle",
                permissions.ALERTS_VIEW,
                badge=unread_badge,
            ),
            before="web:audit",
        )
        register_nav_item(
            NavItem(
                _("Alert rules"),
                "dashboards:alert_rules",
                "ti-adjustments-alt",
                permissions.ALERT_RULES_MANAGE,
            ),
            before="web:audit",
        )
