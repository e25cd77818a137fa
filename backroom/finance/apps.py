from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "backroom.finance"
    label = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from backroom.finance import events, handlers, permissions  # noqa: F401  (registration)
        from backroom.web.navigation import NavItem, register_nav_item

        register_nav_item(
            NavItem(_("Finance"), "finance:pnl", "ti-report-money", permissions.FINANCE_VIEW),
            before="web:audit",
        )
