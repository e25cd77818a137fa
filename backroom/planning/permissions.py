"""Planning permission codes."""

from django.utils.translation import gettext_lazy as _

from backroom.accounts.permissions import register_permission

PLANNING_VIEW = register_permission(
    "planning.view", _("See demand forecasts, their accuracy and the planning calendar")
)
PLANNING_MANAGE = register_permission(
    "planning.manage",
    _("Edit holidays, promotions, closures and planned events; refresh forecasts"),
)
