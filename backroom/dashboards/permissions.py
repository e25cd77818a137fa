"""Dashboards and alerts permission codes."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

DASHBOARDS_VIEW = register_permission(
    "dashboards.view", _("See the dashboards (sales, food cost, waste, stock) of their stores")
)
ALERTS_VIEW = register_permission(
    "alerts.view", _("See the alerts of their stores; read and acknowledge them")
)
ALERTS_MANAGE = register_permission("alerts.manage", _("Assign and resolve alerts of their stores"))
ALERT_RULES_MANAGE = register_permission(
    "alerts.rules", _("Write the alert rules (conditions, scope, recipients, cool-down)")
)
