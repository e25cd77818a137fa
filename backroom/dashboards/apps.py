from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "backroom.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards and alerts")

    def ready(self) -> None:
        from backroom.dashboards import permissions  # registration
        from backroom.dashboards.selectors_alerts import unread_badge
        from backroom.web.navigation import NavItem, register_nav_item

        # Right after Home: HQ's dashboard, then a store manager's first stop.
        for item in [
            NavItem(_("Dashboard"), "dashboards:hq", "ti-dashboard", permissions.DASHBOARDS_VIEW),
            NavItem(
                _("Today"), "dashboards:today", "ti-calendar-stats", permissions.DASHBOARDS_VIEW
            ),
        ]:
            register_nav_item(item, before="web:org_tree")
        # The notification centre (badge: alerts not resolved that the user has not opened).
        for item in [
            NavItem(
                _("Alerts"),
                "dashboards:alerts",
                "ti-alert-triangle",
                permissions.ALERTS_VIEW,
                badge=unread_badge,
            ),
            NavItem(
                _("Alert rules"),
                "dashboards:alert_rules",
                "ti-adjustments-alt",
                permissions.ALERT_RULES_MANAGE,
            ),
        ]:
            register_nav_item(item, before="web:audit")
