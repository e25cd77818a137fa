from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "backroom.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards and alerts")

    def ready(self) -> None:
        from backroom.dashboards import permissions  # noqa: F401  (registration)
