from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "backroom.finance"
    label = "finance"
    verbose_name = _("Finance")

    def ready(self) -> None:
        from backroom.finance import events, handlers, permissions  # noqa: F401  (registration)
        from backroom.finance.services import claims  # (its decision hook registers)
        from backroom.inventory.reports import document_page, register_source_page
        from backroom.web.navigation import NavItem, register_nav_item

        register_source_page(
            claims.CLAIM_DOCUMENT_TYPE, document_page("finance:claim_detail", "claim_id")
        )
        for item in [
            NavItem(_("Finance"), "finance:pnl", "ti-report-money", permissions.FINANCE_VIEW),
            NavItem(
                _("Expense claims"), "finance:claim_list", "ti-receipt", permissions.FINANCE_CLAIM
            ),
        ]:
            register_nav_item(item, before="web:audit")
